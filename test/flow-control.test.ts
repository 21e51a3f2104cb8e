import { describe, expect, it } from 'vitest';
import { EventHandler, reply, type EventBody, type EventContext } from '@restpipe/core';
import { memoryLogger } from './helpers/logs.js';
import { usePipeFixture } from './helpers/pipes.js';
import { RawPeer } from './helpers/raw-peer.js';
import { settle, waitFor } from './helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const suite = usePipeFixture();

class Handler extends EventHandler {
  started = 0;
  running = 0;
  maxRunning = 0;
  get_time() {
    return { now: Date.now() };
  }
  async post_slow(_ctx: EventContext, body: EventBody): Promise<{ bytes: number }> {
    this.running += 1;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    await new Promise((r) => setTimeout(r, 300));
    this.running -= 1;
    return { bytes: body.raw.length };
  }
  /** Calls the sender back before answering. */
  async post_nested(ctx: EventContext, body: EventBody): Promise<{ bytes: number; time: unknown }> {
    const back = await ctx.pipe.request({ noun: 'time', timeoutMs: 5_000 });
    return { bytes: body.raw.length, time: back.data };
  }
  get_big() {
    this.started += 1;
    return reply(Buffer.alloc(MiB, 1), { mimeType: 'application/octet-stream' });
  }
  async get_hold(): Promise<string> {
    this.running += 1;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    await new Promise((r) => setTimeout(r, 400));
    this.running -= 1;
    return 'held';
  }
}

describe('flow control between two restpipe nodes', () => {
  it('a request sent as the client connects reaches it (no event in the same batch as HelloAck is refused)', async () => {
    const pipes = suite.fixture();
    const server = await pipes.server({ connectWaitMs: 5_000 });
    const early = [1, 2, 3].map(() => settle(server.request('alice', { noun: 'time' })));
    await pipes.connectedClient(server.port, 'alice');
    const results = await Promise.all(early);
    expect(results.map((r) => (r.ok ? r.value.returnCode : r.error.code))).toEqual([0, 0, 0]);
  });

  it('a sender keeps within the receiver\'s --max-inbound-bytes: the receiver never stops reading, nobody is cut', async () => {
    const pipes = suite.fixture();
    const handler = new Handler();
    const logger = memoryLogger();
    const limit = 1 * MiB;
    const server = await pipes.server({ handler, logger, maxInboundBytes: limit, maxEventBytes: 4 * MiB, heartbeatMs: 150 });
    const client = await pipes.connectedClient(server.port, 'credit', { maxEventBytes: 4 * MiB, heartbeatMs: 150, logger });
    const body = Buffer.alloc(300 * KiB, 2);
    const results = await Promise.all(Array.from({ length: 12 }, () => settle(client.request({ verb: 'post', noun: 'slow', body, timeoutMs: 30_000 }))));
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(Array(12).fill('ok'));
    // 1 MiB over 300 KiB bodies: at most 3 held at once.
    expect(handler.maxRunning).toBeLessThanOrEqual(3);
    expect(logger.records.some((r) => r['reason'] === 'slow_consumer')).toBe(false);
    expect(logger.records.some((r) => r.msg === 'inbound events hold maxInboundBytes: reading paused')).toBe(false);
  });

  it('a handler that calls its sender back works while its events fill the budget', async () => {
    const pipes = suite.fixture();
    const server = await pipes.server({ handler: new Handler(), maxInboundBytes: 512 * KiB });
    const client = await pipes.connectedClient(server.port, 'nested', { handler: new Handler() });
    const body = Buffer.alloc(200 * KiB, 3);
    const results = await Promise.all(Array.from({ length: 6 }, () => settle(client.request({ verb: 'post', noun: 'nested', body, timeoutMs: 20_000 }))));
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(Array(6).fill('ok'));
  });
});

describe('what a hostile peer can make a node hold', () => {
  it('bytes in args count against --max-inbound-bytes, not only the body', async () => {
    const pipes = suite.fixture();
    const handler = new Handler();
    const server = await pipes.server({ handler, maxInboundBytes: 48 * KiB, heartbeatMs: 60_000 });
    const peer = await RawPeer.connect(server.port, suite.pki.client('args'), suite.pki.ca.certPem);
    peer.hello();
    await waitFor(() => server.isConnected('args'), 'args to register');
    // Within the 32 KiB a sender may put in an event's fields (a receiver refuses more).
    const arg = 'a'.repeat(24 * KiB);
    for (let id = 1; id <= 12; id++) {
      peer.send({ kind: 'event', event: { id, verb: 'get', noun: ['hold'], args: [arg], query: [], mimeType: '', data: Buffer.alloc(0), timeoutMs: 30_000, requestId: `a${id}` } });
    }
    await waitFor(() => handler.running >= 1, 'the first events to run');
    await new Promise((r) => setTimeout(r, 200));
    // 48 KiB over 24 KiB frames: two fit, a third crosses the limit and stops reading.
    expect(handler.maxRunning).toBeLessThanOrEqual(3);
    await waitFor(() => peer.frames.filter((f) => f.kind === 'reply').length === 12, 'all 12 replies, as handlers finish', 15_000);
    peer.destroy();
  });

  it('a peer that reads nothing cannot make its handlers pile up replies: no new handler starts while they wait', async () => {
    const pipes = suite.fixture();
    const handler = new Handler();
    const server = await pipes.server({ handler, maxPendingWriteBytes: 2 * MiB, maxConcurrency: 4, heartbeatMs: 60_000 });
    const peer = await RawPeer.connect(server.port, suite.pki.client('flood'), suite.pki.ca.certPem);
    peer.hello();
    await waitFor(() => server.isConnected('flood'), 'flood to register');
    peer.socket.pause();
    for (let id = 1; id <= 300; id++) {
      peer.send({ kind: 'event', event: { id, verb: 'get', noun: ['big'], args: [], query: [], mimeType: '', data: Buffer.alloc(0), timeoutMs: 30_000, requestId: `f${id}` } });
    }
    await new Promise((r) => setTimeout(r, 1_000));
    // What the kernel buffers on loopback, plus 2 MiB unflushed, plus the handlers running: far from 300 MiB.
    expect(handler.started).toBeLessThan(60);
    peer.destroy();
  });
});
