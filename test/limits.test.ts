import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { EventHandler, ReplyKind, reply, type EventBody, type EventContext } from '@restpipe/core';
import { memoryLogger } from './helpers/logs.js';
import { usePipeFixture, type PipeFixture } from './helpers/pipes.js';
import { RawPeer } from './helpers/raw-peer.js';
import { waitFor } from './helpers/wait.js';

class Handler extends EventHandler {
  get_time() {
    return { now: Date.now() };
  }
  post_echo(_ctx: EventContext, body: EventBody) {
    return reply(body.raw, { mimeType: body.mimeType });
  }
  get_hold(ctx: EventContext): Promise<string> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve('held'), 500);
      ctx.signal.addEventListener('abort', () => clearTimeout(timer));
    });
  }
}

const suite = usePipeFixture();
let pipes: PipeFixture;

function event(id: number, noun: string, data = Buffer.alloc(0)) {
  return { kind: 'event' as const, event: { id, verb: noun === 'echo' ? 'post' : 'get', noun: [noun], args: [], query: [], mimeType: 'application/octet-stream', data, timeoutMs: 10_000, requestId: `raw-${id}` } };
}

describe('limits', () => {
  it('closes a peer that stops reading once its unread bytes pass the cap and stop moving', async () => {
    pipes = suite.fixture();
    const logger = memoryLogger();
    const server = await pipes.server({ handler: new Handler(), logger, maxEventBytes: 64 * 1024, maxPendingWriteBytes: 256 * 1024, heartbeatMs: 200 });
    const bystander = await pipes.connectedClient(server.port, 'bystander');
    const peer = await RawPeer.connect(server.port, suite.pki.client('sloth'), suite.pki.ca.certPem);
    peer.hello();
    await waitFor(() => server.isConnected('sloth'), 'sloth to register');
    peer.socket.pause(); // reads nothing from here on
    const body = Buffer.alloc(60 * 1024, 1);
    for (let id = 1; id <= 400; id++) peer.send(event(id, 'echo', body));
    await waitFor(() => !server.isConnected('sloth'), 'the server to cut sloth off', 15_000);
    expect(logger.records.some((r) => r.msg === 'client disconnected' && r['reason'] === 'slow_consumer')).toBe(true);
    expect((await bystander.request({ noun: 'time' })).returnCode).toBe(0);
    peer.destroy();
  });

  it('closes a TCP connection that never starts the TLS handshake, after the handshake timeout', async () => {
    pipes = suite.fixture();
    const logger = memoryLogger();
    const server = await pipes.server({ logger, handshakeTimeoutMs: 300 });
    const socket = net.connect(server.port, '127.0.0.1');
    const started = Date.now();
    await new Promise((resolve) => socket.on('close', resolve).on('error', () => {}));
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(logger.records.some((r) => r.msg === 'pipe connection refused' && r['code'] === 'RP_ERR_HANDSHAKE_TIMEOUT')).toBe(true);
  });

  it('runs at most maxConcurrency handlers, queues up to maxInFlight, and refuses the rest with 503', async () => {
    pipes = suite.fixture();
    const server = await pipes.server({ handler: new Handler(), maxConcurrency: 2, maxInFlight: 3 });
    const peer = await RawPeer.connect(server.port, suite.pki.client('flood'), suite.pki.ca.certPem);
    peer.hello();
    await waitFor(() => server.isConnected('flood'), 'flood to register');
    for (let id = 1; id <= 10; id++) peer.send(event(id, 'hold'));
    await waitFor(() => peer.frames.filter((f) => f.kind === 'reply').length === 10, 'ten replies', 10_000);
    const replies = peer.frames.flatMap((f) => (f.kind === 'reply' ? [f.reply] : []));
    const refused = replies.filter((r) => r.kind === ReplyKind.EXCEPTION);
    expect(refused).toHaveLength(5);
    for (const r of refused) {
      expect(r.status).toBe(503);
      expect(JSON.parse(Buffer.from(r.data).toString()).exception.code).toBe('RP_ERR_TOO_MANY_IN_FLIGHT');
    }
    expect(replies.filter((r) => r.kind === ReplyKind.VALUE)).toHaveLength(5);
    peer.destroy();
  });

  it('a library client never sends more than the peer allows in flight', async () => {
    pipes = suite.fixture();
    const server = await pipes.server({ handler: new Handler(), maxInFlight: 4 });
    const client = await pipes.connectedClient(server.port, 'node-a');
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => client.request({ noun: 'hold' })));
    const codes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code));
    expect(codes.filter((c) => c === 'ok')).toHaveLength(4);
    expect(codes.filter((c) => c === 'RP_ERR_TOO_MANY_IN_FLIGHT')).toHaveLength(2);
  });

  it('100 connections each sending 1 MiB of garbage are all rejected, and memory stays bounded', async () => {
    pipes = suite.fixture();
    const logger = memoryLogger();
    const server = await pipes.server({ logger });
    const bystander = await pipes.connectedClient(server.port, 'bystander');
    const garbage = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 2654435761) >>> 24;
    const rssBefore = process.memoryUsage().rss;
    let peakGrowth = 0;
    const sample = setInterval(() => (peakGrowth = Math.max(peakGrowth, process.memoryUsage().rss - rssBefore)), 20);
    // Half before TLS (garbage instead of a ClientHello), half after a full mutual-TLS handshake.
    const plain = Array.from({ length: 50 }, () => new Promise<void>((resolve) => {
      const s = net.connect(server.port, '127.0.0.1', () => s.end(garbage));
      s.on('close', () => resolve()).on('error', () => {});
    }));
    const identity = suite.pki.client('garbler');
    const secure = Array.from({ length: 50 }, () => new Promise<void>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: server.port, servername: 'localhost', ca: suite.pki.ca.certPem, cert: identity.certPem, key: identity.keyPem }, () => s.write(garbage));
      // A real peer reads: that is how it sees the Goaway and the close.
      s.resume();
      s.on('close', () => resolve()).on('error', () => {});
    }));
    await Promise.all([...plain, ...secure]);
    clearInterval(sample);
    expect(server.clients().map((c) => c.name)).toEqual(['bystander']);
    expect(logger.records.filter((r) => r.msg === 'pipe connection refused').length).toBeGreaterThanOrEqual(50);
    // 100 MiB were thrown at it; buffering even a tenth of that would show.
    expect(peakGrowth).toBeLessThan(96 * 1024 * 1024);
    console.log(`garbage test: peak RSS growth ${(peakGrowth / 1048576).toFixed(1)} MiB for 100 MiB of garbage`);
    expect((await bystander.request({ noun: 'time' })).returnCode).toBe(0);
  });
});
