import { describe, expect, it } from 'vitest';
import { EventHandler, type EventBody, type EventContext } from '@restpipe/core';
import { usePipeFixture } from './helpers/pipes.js';
import { RawPeer } from './helpers/raw-peer.js';
import { settle, waitFor } from './helpers/wait.js';

/** Holds every `post_hold` until the test lets go; counts the body bytes its running calls hold. */
class HoldingHandler extends EventHandler {
  running = 0;
  heldBytes = 0;
  maxHeldBytes = 0;
  readonly #release: Array<() => void> = [];

  get_time() {
    return { now: Date.now() };
  }

  post_size(_ctx: EventContext, body: EventBody) {
    return { bytes: body.raw.length };
  }

  post_hold(_ctx: EventContext, body: EventBody): Promise<{ bytes: number }> {
    const bytes = body.raw.length;
    this.running += 1;
    this.heldBytes += bytes;
    this.maxHeldBytes = Math.max(this.maxHeldBytes, this.heldBytes);
    return new Promise((resolve) => {
      this.#release.push(() => {
        this.running -= 1;
        this.heldBytes -= bytes;
        resolve({ bytes });
      });
    });
  }

  releaseAll(): number {
    const all = this.#release.splice(0);
    for (const release of all) release();
    return all.length;
  }
}

const suite = usePipeFixture();
const KiB = 1024;
const MiB = 1024 * KiB;

describe('inbound events are bounded in bytes (--max-inbound-bytes)', () => {
  it('stops reading a connection whose events hold the limit, resumes as they finish, and loses nothing', async () => {
    const pipes = suite.fixture();
    const handler = new HoldingHandler();
    const limit = 1 * MiB;
    const eventBytes = 200 * KiB;
    const server = await pipes.server({ handler, maxInboundBytes: limit, maxEventBytes: 256 * KiB });
    const hog = await pipes.connectedClient(server.port, 'hog', { maxEventBytes: 256 * KiB });
    const bystander = await pipes.connectedClient(server.port, 'bystander');
    let disconnects = 0;
    hog.on('disconnect', () => (disconnects += 1));

    const body = Buffer.alloc(eventBytes, 7);
    const calls = Array.from({ length: 40 }, () => hog.request({ verb: 'post', noun: 'hold', body, timeoutMs: 60_000 }));
    await waitFor(() => handler.running >= 5, 'handlers to start on the first events');
    await new Promise((r) => setTimeout(r, 300));
    // Held: what fits under the limit, plus at most the one event that crossed it.
    expect(handler.heldBytes).toBeLessThanOrEqual(limit + eventBytes);
    expect(handler.running).toBeLessThan(40);

    // The hog's connection is paused; another connection is not.
    expect((await bystander.request({ noun: 'time' })).returnCode).toBe(0);

    let replies = 0;
    const settled = calls.map((call) => call.then((r) => ((replies += 1), r)));
    while (replies < 40) {
      handler.releaseAll();
      await new Promise((r) => setTimeout(r, 20));
    }
    const results = await Promise.all(settled);
    expect(results.map((r) => (r.data as { bytes: number }).bytes)).toEqual(Array(40).fill(eventBytes));
    expect(handler.maxHeldBytes).toBeLessThanOrEqual(limit + eventBytes);
    expect(disconnects).toBe(0);
    expect(hog.isConnected).toBe(true);
  });

  it('keeps a peer that sent more than the limit in one burst: its later frames wait in TCP, not in memory', async () => {
    const pipes = suite.fixture();
    const handler = new HoldingHandler();
    const server = await pipes.server({ handler, maxInboundBytes: 512 * KiB, maxEventBytes: 128 * KiB, heartbeatMs: 200 });
    const peer = await RawPeer.connect(server.port, suite.pki.client('burst'), suite.pki.ca.certPem);
    peer.hello(200);
    await waitFor(() => server.isConnected('burst'), 'burst to register');
    const data = Buffer.alloc(100 * KiB, 1);
    for (let id = 1; id <= 30; id++) {
      peer.send({ kind: 'event', event: { id, verb: 'post', noun: ['hold'], args: [], query: [], mimeType: 'application/octet-stream', data, timeoutMs: 60_000, requestId: `b${id}` } });
    }
    await waitFor(() => handler.running >= 5, 'the first events to run');
    // Several heartbeat intervals with the connection paused: it is not declared dead or slow.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(handler.maxHeldBytes).toBeLessThanOrEqual(512 * KiB + 100 * KiB);
    expect(server.isConnected('burst')).toBe(true);
    while (peer.frames.filter((f) => f.kind === 'reply').length < 30) {
      handler.releaseAll();
      await new Promise((r) => setTimeout(r, 20));
      if (peer.closed) break;
    }
    const ids = peer.frames.flatMap((f) => (f.kind === 'reply' ? [f.reply.id] : []));
    expect(ids.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(peer.closed).toBe(false);
    peer.destroy();
  });
});

describe('a sender never cuts its own healthy connection', () => {
  it('carries 80 concurrent 4 MiB requests over one healthy link', async () => {
    const pipes = suite.fixture();
    const handler = new HoldingHandler();
    const server = await pipes.server({ handler });
    const client = await pipes.connectedClient(server.port, 'bulk');
    let disconnects = 0;
    client.on('disconnect', () => (disconnects += 1));
    const body = Buffer.alloc(4 * MiB, 3);
    const results = await Promise.all(
      Array.from({ length: 80 }, () => settle(client.request({ verb: 'post', noun: 'size', body, timeoutMs: 60_000 }))),
    );
    const failures = results.flatMap((r) => (r.ok ? [] : [r.error.code]));
    expect(failures).toEqual([]);
    expect(results.every((r) => r.ok && (r.value.data as { bytes: number }).bytes === 4 * MiB)).toBe(true);
    expect(disconnects).toBe(0);
  });

  it('requests waiting behind a full socket keep their deadline and never reach the peer once expired', async () => {
    const pipes = suite.fixture();
    const server = await pipes.server({ maxPendingWriteBytes: 256 * KiB, maxEventBytes: 1 * MiB, heartbeatMs: 60_000 });
    const peer = await RawPeer.connect(server.port, suite.pki.client('stalled'), suite.pki.ca.certPem);
    peer.hello();
    await waitFor(() => server.isConnected('stalled'), 'stalled to register');
    peer.socket.pause();
    const body = Buffer.alloc(1 * MiB, 5);
    const started = Date.now();
    // 12: under the raw peer's own maxInFlight of 16.
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => settle(server.request('stalled', { verb: 'post', noun: 'x', body, timeoutMs: 400, requestId: `q${i}` }))),
    );
    // Every one of them times out as a request (504), none is cut as a slow consumer.
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(Array(12).fill('RP_ERR_EVENT_TIMEOUT'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(server.isConnected('stalled')).toBe(true);
    // The peer now reads: it finds at most the events that fit the socket, not all 12.
    peer.socket.resume();
    await new Promise((r) => setTimeout(r, 500));
    const events = peer.frames.filter((f) => f.kind === 'event').length;
    expect(events).toBeLessThan(12);
    // The ones it never saw were never cancelled on the wire either.
    const cancels = peer.frames.filter((f) => f.kind === 'cancel').length;
    expect(cancels).toBe(events);
    peer.destroy();
  });

  it('still cuts a peer that reads nothing for 3 heartbeats while data waits', async () => {
    const pipes = suite.fixture();
    const server = await pipes.server({ maxPendingWriteBytes: 64 * KiB, maxEventBytes: 1 * MiB, heartbeatMs: 150 });
    const peer = await RawPeer.connect(server.port, suite.pki.client('sloth2'), suite.pki.ca.certPem);
    peer.hello(150);
    await waitFor(() => server.isConnected('sloth2'), 'sloth2 to register');
    peer.socket.pause();
    const body = Buffer.alloc(1 * MiB, 5);
    const results = Array.from({ length: 10 }, () => settle(server.request('sloth2', { verb: 'post', noun: 'x', body, timeoutMs: 30_000 })));
    await waitFor(() => !server.isConnected('sloth2'), 'the server to cut sloth2 off', 10_000);
    const codes = (await Promise.all(results)).map((r) => (r.ok ? 'ok' : r.error.code));
    expect(new Set(codes)).toEqual(new Set(['RP_ERR_PEER_DISCONNECTED']));
    peer.destroy();
  });
});

describe('requests waiting for an absent peer are bounded', () => {
  it('refuses, with 503 TooManyInFlightError at once, more than maxInFlight waiting for one client', async () => {
    const pipes = suite.fixture();
    const server = await pipes.server({ maxInFlight: 3, connectWaitMs: 300 });
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 5 }, () => settle(server.request('absent', { noun: 'time' }))));
    const codes = results.map((r) => (r.ok ? 'ok' : r.error.code));
    expect(codes.filter((c) => c === 'RP_ERR_TOO_MANY_IN_FLIGHT')).toHaveLength(2);
    expect(codes.filter((c) => c === 'RP_ERR_UNKNOWN_CLIENT')).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
});

describe('numbers a peer sends are clamped', () => {
  it('a deadline of 2^32-1 ms is clamped to a day: no timer overflow, the event still runs', async () => {
    const pipes = suite.fixture();
    const handler = new HoldingHandler();
    const server = await pipes.server({ handler });
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning.name);
    };
    process.on('warning', onWarning);
    try {
      const peer = await RawPeer.connect(server.port, suite.pki.client('far-future'), suite.pki.ca.certPem);
      peer.hello();
      await waitFor(() => server.isConnected('far-future'), 'far-future to register');
      const data = Buffer.from('x');
      peer.send({ kind: 'event', event: { id: 1, verb: 'post', noun: ['hold'], args: [], query: [], mimeType: 'text/plain', data, timeoutMs: 0xffff_ffff, requestId: 'far' } });
      await waitFor(() => handler.running === 1, 'the event to run');
      await new Promise((r) => setTimeout(r, 200));
      handler.releaseAll();
      await waitFor(() => peer.frames.some((f) => f.kind === 'reply'), 'its reply');
      peer.destroy();
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((name) => name === 'TimeoutOverflowWarning')).toEqual([]);
  });
});
