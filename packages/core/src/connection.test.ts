import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { decodeFrame, encodeFrameBytes, FrameDecoder, ReplyKind, type Frame } from '@restpipe/wire';
import { PipeConnection } from './connection.js';
import { EventHandler, type EventContext } from './event-handler.js';
import { silentLogger } from './logger.js';
import { MemoryTransport } from './memory-transport.js';
import { resolvePipeOptions, type PipeOptions } from './options.js';
import type { ConnectionState } from './state.js';

const TLS = { cert: 'c', key: 'k', ca: 'a' };

class Handler extends EventHandler {
  readonly pending: Array<(value: unknown) => void> = [];
  get_time() {
    return { now: 1 };
  }
  get_wait(ctx: EventContext): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.pending.push(resolve);
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
    });
  }
}

function connection(role: 'server' | 'client', transport: MemoryTransport, options: Partial<PipeOptions> = {}, handler = new Handler()): PipeConnection {
  return new PipeConnection({
    role, transport, handler, generation: 1, logger: silentLogger, owner: {},
    options: resolvePipeOptions({ tls: TLS, heartbeatMs: 1_000, helloTimeoutMs: 500, ...options }),
  });
}

/** A client and a server connection over a memory pair, Hello exchanged. */
async function openPair(options: Partial<PipeOptions> = {}, serverHandler = new Handler()) {
  const [clientEnd, serverEnd] = MemoryTransport.pair('client', 'server');
  const client = connection('client', clientEnd, options);
  const server = connection('server', serverEnd, options, serverHandler);
  const hello = server.awaitHello().then((h) => server.acceptHello(h, 'node-a'));
  await client.helloAsClient();
  await hello;
  return { client, server, clientEnd, serverEnd, serverHandler };
}

/** Frames a hand-driven peer sees, and a way to write frames as that peer. */
function rawPeer(end: MemoryTransport) {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder(1 << 24);
  end.onData((chunk) => {
    for (const body of decoder.push(chunk)) frames.push(decodeFrame(body));
  });
  end.onClose(() => {});
  end.onWritable(() => {});
  return { frames, send: (frame: Frame) => end.write([encodeFrameBytes(frame)]) };
}

function states(c: PipeConnection): ConnectionState[] {
  const seen: ConnectionState[] = [];
  c.on('state', (to) => seen.push(to));
  return seen;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('PipeConnection without sockets', () => {
  it('opens both sides with the Hello exchange, and requests go both ways', async () => {
    const { client, server } = await openPair();
    expect(client.state).toBe('open');
    expect(server.state).toBe('open');
    expect(server.peer.name).toBe('node-a');
    const fromClient = client.request({ noun: 'time' });
    await vi.advanceTimersByTimeAsync(1);
    expect((await fromClient).data).toEqual({ now: 1 });
    const fromServer = server.request({ noun: 'time' });
    await vi.advanceTimersByTimeAsync(1);
    expect((await fromServer).returnCode).toBe(0);
  });

  it('closes a connection whose peer sends no Hello within helloTimeoutMs', async () => {
    const [, serverEnd] = MemoryTransport.pair();
    const server = connection('server', serverEnd);
    const closed = new Promise((resolve) => server.once('close', (reason) => resolve(reason)));
    const hello = server.awaitHello().catch((error: Error & { code?: string }) => error.code);
    await vi.advanceTimersByTimeAsync(499);
    expect(server.state).toBe('handshaking');
    await vi.advanceTimersByTimeAsync(2);
    expect(await hello).toBe('RP_ERR_HELLO_TIMEOUT');
    expect(await closed).toBe('hello_timeout');
  });

  it('refuses a first frame that is not the Hello its role expects', async () => {
    const [peerEnd, serverEnd] = MemoryTransport.pair();
    const peer = rawPeer(peerEnd);
    const server = connection('server', serverEnd);
    const hello = server.awaitHello().catch((error: Error) => error.name);
    peer.send({ kind: 'ping', ping: { seq: 1 } });
    await vi.advanceTimersByTimeAsync(1);
    expect(await hello).toBe('ProtocolError');
    expect(peer.frames.map((f) => (f.kind === 'goaway' ? f.goaway.reason : f.kind))).toEqual(['protocol_error']);
  });

  it('drains: Goaway puts the peer in DRAINING, new requests get 503 at once, in-flight ones finish', async () => {
    const { client, server, serverHandler } = await openPair();
    const clientStates = states(client);
    const serverStates = states(server);
    const inFlight = client.request({ noun: 'wait' });
    await vi.advanceTimersByTimeAsync(1);
    expect(serverHandler.pending).toHaveLength(1);
    const drained = server.drain(10_000);
    await vi.advanceTimersByTimeAsync(1);
    expect(client.state).toBe('draining');
    expect(server.state).toBe('draining');
    const refused = await client.request({ noun: 'time' }).catch((error: Error & { status?: number; code?: string }) => [error.status, error.code]);
    expect(refused).toEqual([503, 'RP_ERR_PEER_UNAVAILABLE']);
    serverHandler.pending[0]!('done');
    await vi.advanceTimersByTimeAsync(1);
    expect((await inFlight).data).toBe('done');
    await drained;
    await vi.advanceTimersByTimeAsync(1);
    expect(serverStates).toEqual(['draining', 'closing', 'closed']);
    expect(clientStates).toEqual(['draining', 'closed']);
  });

  it('cancel racing the reply settles the request once; the late reply is counted, not an error', async () => {
    const { client, serverHandler } = await openPair();
    const controller = new AbortController();
    const result = client.request({ noun: 'wait', signal: controller.signal }).then(
      () => 'replied',
      (error: Error & { code?: string }) => error.code,
    );
    await vi.advanceTimersByTimeAsync(1);
    serverHandler.pending[0]!('late'); // the reply is on its way...
    controller.abort(); // ...as the caller gives up
    await vi.advanceTimersByTimeAsync(1);
    expect(await result).toBe('RP_ERR_CANCELLED');
    expect(client.lateReplies).toBeLessThanOrEqual(1);
    expect(client.state).toBe('open');
    expect(client.inFlight).toBe(0);
  });

  it('drops a reply for an id it never sent and stays open', async () => {
    const [peerEnd, clientEnd] = MemoryTransport.pair();
    const peer = rawPeer(peerEnd);
    const client = connection('client', clientEnd);
    const opened = client.helloAsClient();
    await vi.advanceTimersByTimeAsync(1);
    peer.send({ kind: 'helloAck', helloAck: { protocolVersion: 1, software: 'raw', heartbeatMs: 1_000, maxEventBytes: 1 << 20, maxInFlight: 8, maxConcurrency: 2, peerName: 'x' } });
    await opened;
    peer.send({ kind: 'reply', reply: { id: 77, returnCode: 0, mimeType: '', data: Buffer.alloc(0), kind: ReplyKind.VALUE, status: 200 } });
    await vi.advanceTimersByTimeAsync(1);
    expect(client.lateReplies).toBe(1);
    expect(client.state).toBe('open');
  });

  it('closes with protocol_error on an event id already in flight', async () => {
    const [peerEnd, serverEnd] = MemoryTransport.pair();
    const peer = rawPeer(peerEnd);
    const server = connection('server', serverEnd);
    void server.awaitHello().then((h) => server.acceptHello(h, 'p'));
    peer.send({ kind: 'hello', hello: { protocolVersion: 1, software: 'raw', heartbeatMs: 1_000, maxEventBytes: 1 << 20, maxInFlight: 8, maxConcurrency: 2 } });
    await vi.advanceTimersByTimeAsync(1);
    const event = { id: 5, verb: 'get', noun: ['wait'], args: [], query: [], mimeType: '', data: Buffer.alloc(0), timeoutMs: 5_000, requestId: 'r' };
    peer.send({ kind: 'event', event });
    peer.send({ kind: 'event', event });
    await vi.advanceTimersByTimeAsync(1);
    const goaway = peer.frames.find((f) => f.kind === 'goaway');
    expect(goaway?.kind === 'goaway' && goaway.goaway.reason).toBe('protocol_error');
    expect(server.state === 'closing' || server.state === 'closed').toBe(true);
    // After our Goaway nothing new is accepted: a request is refused with 503 at once.
    await expect(server.request({ noun: 'time' })).rejects.toMatchObject({ status: 503 });
  });

  it('cuts a peer that reads nothing for 3 heartbeats while data waits, not before', async () => {
    const { server, serverEnd } = await openPair({ heartbeatMs: 1_000 });
    const closed = new Promise((resolve) => server.once('close', (reason) => resolve(reason)));
    serverEnd.stall();
    void server.request({ verb: 'post', noun: 'time', body: Buffer.alloc(1_000) }).catch(() => {});
    await vi.advanceTimersByTimeAsync(1);
    expect(serverEnd.pendingWriteBytes).toBeGreaterThan(0);
    await vi.advanceTimersByTimeAsync(3_500);
    expect(server.state).toBe('open'); // 3 ticks of no progress: the first only sees where it stands
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await closed).toBe('slow_consumer');
  });

  it('a peer that reads slowly is never a slow consumer', async () => {
    const { server, serverEnd } = await openPair({ heartbeatMs: 1_000 });
    serverEnd.stall();
    void server.request({ verb: 'post', noun: 'time', body: Buffer.alloc(1_000) }).catch(() => {});
    for (let i = 0; i < 10; i++) {
      // A little progress every interval: the queue moves.
      void server.request({ verb: 'post', noun: 'time', body: Buffer.alloc(10) }).catch(() => {});
      serverEnd.stall(false);
      await vi.advanceTimersByTimeAsync(1);
      serverEnd.stall(true);
      void server.request({ verb: 'post', noun: 'time', body: Buffer.alloc(10) }).catch(() => {});
      await vi.advanceTimersByTimeAsync(1_000);
    }
    expect(server.state).toBe('open');
  });
});
