import { describe, expect, it } from 'vitest';
import {
  EventHandler,
  EventTimeoutError,
  PeerDisconnectedError,
  PeerUnavailableError,
  PipeFailError,
  UnknownClientError,
  reply,
  type EventBody,
  type EventContext,
} from '@restpipe/core';
import { usePipeFixture, type PipeFixture } from './helpers/pipes.js';
import { nextEvent, settle, waitFor } from './helpers/wait.js';

class ServerHandler extends EventHandler {
  aborted: string[] = [];

  get_time(): { time_from_server: number } {
    return { time_from_server: Date.now() / 1000 };
  }

  post_echo(_ctx: EventContext, body: EventBody) {
    return reply(body.raw, { mimeType: body.mimeType });
  }

  get_square(_ctx: EventContext, _body: EventBody, n: string): { n: number; square: number } {
    const value = Number(n);
    return { n: value, square: value * value };
  }

  /** Waits a random moment so that replies come back out of order. */
  async get_jitter(_ctx: EventContext, _body: EventBody, n: string): Promise<{ n: string }> {
    await new Promise((r) => setTimeout(r, Math.random() * 20));
    return { n };
  }

  get_slow(ctx: EventContext): Promise<never> {
    return new Promise((_resolve, reject) => {
      ctx.signal.addEventListener('abort', () => {
        this.aborted.push(ctx.requestId);
        reject(ctx.signal.reason as Error);
      });
    });
  }

  get_boom(): never {
    throw new RangeError('it went boom');
  }
}

class ClientHandler extends EventHandler {
  get_whoami(ctx: EventContext): { client_side: true; asked_by: string } {
    return { client_side: true, asked_by: ctx.peer.name };
  }

  /** Answers the server by asking the server back over the same pipe. */
  async get_roundabout(ctx: EventContext): Promise<unknown> {
    const time = await ctx.pipe.request({ noun: 'time' });
    return { via_client: time.data };
  }
}

const suite = usePipeFixture();
const fixture = (): PipeFixture => suite.fixture();
let pipes: PipeFixture;

describe('library: request and reply', () => {
  it('carries requests in both directions over one connection', async () => {
    pipes = fixture();
    const server = await pipes.server({ handler: new ServerHandler() });
    const client = await pipes.connectedClient(server.port, 'node-a', { handler: new ClientHandler() });

    const fromServer = await client.request({ noun: 'time' });
    expect(fromServer.returnCode).toBe(0);
    expect((fromServer.data as { time_from_server: number }).time_from_server).toBeGreaterThan(1e9);

    const fromClient = await server.request('node-a', { noun: ['whoami'] });
    expect(fromClient.data).toEqual({ client_side: true, asked_by: 'server' });

    const nested = await server.request('node-a', { noun: 'roundabout' });
    expect((nested.data as { via_client: { time_from_server: number } }).via_client.time_from_server).toBeGreaterThan(1e9);
  });

  it('matches 1,000 concurrent requests to the right replies', async () => {
    pipes = fixture();
    const server = await pipes.server({ handler: new ServerHandler() });
    const client = await pipes.connectedClient(server.port, 'node-a');
    const replies = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => client.request({ noun: 'jitter', args: [String(i)] })),
    );
    expect(replies.map((r) => (r.data as { n: string }).n)).toEqual(Array.from({ length: 1000 }, (_, i) => String(i)));
    expect(client.connection?.inFlight).toBe(0);
  });

  it('round-trips a binary body byte for byte', async () => {
    pipes = fixture();
    const server = await pipes.server({ handler: new ServerHandler() });
    const client = await pipes.connectedClient(server.port, 'node-a');
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) & 0xff));
    const echoed = await client.request({ verb: 'post', noun: 'echo', body: bytes });
    expect(echoed.mimeType).toBe('application/octet-stream');
    expect(Buffer.compare(echoed.raw, bytes)).toBe(0);
  });

  it('reports a handler exception as PipeFailError with return code 251', async () => {
    pipes = fixture();
    const server = await pipes.server({ handler: new ServerHandler() });
    const client = await pipes.connectedClient(server.port, 'node-a');
    const result = await settle(client.request({ noun: 'boom' }));
    expect(result.ok).toBe(false);
    const error = (result as { error: PipeFailError }).error;
    expect(error).toBeInstanceOf(PipeFailError);
    expect(error).toMatchObject({ className: 'RangeError', message: 'it went boom', returnCode: 251, status: 500, traceback: '' });
  });

  it('fails a request at its deadline with EventTimeoutError and aborts the handler', async () => {
    pipes = fixture();
    const handler = new ServerHandler();
    const server = await pipes.server({ handler });
    const client = await pipes.connectedClient(server.port, 'node-a');
    const result = await settle(client.request({ noun: 'slow', timeoutMs: 200, requestId: 'slow-1' }));
    expect(result.ok).toBe(false);
    expect((result as { error: Error }).error).toBeInstanceOf(EventTimeoutError);
    expect((result as { error: { code: string } }).error.code).toBe('RP_ERR_EVENT_TIMEOUT');
    await waitFor(() => handler.aborted.includes('slow-1'), 'the handler signal to abort');
    expect(client.connection?.inFlight).toBe(0);
  });

  it('fails in-flight requests promptly with PeerDisconnectedError when the peer is destroyed', async () => {
    pipes = fixture();
    const server = await pipes.server({ handler: new ServerHandler() });
    const client = await pipes.connectedClient(server.port, 'node-a');
    const pending = settle(client.request({ noun: 'slow', timeoutMs: 20_000 }));
    await waitFor(() => server.clients()[0]?.eventsIn === 1, 'the event to arrive');
    const started = Date.now();
    await server.close();
    const result = await pending;
    expect((result as { error: Error }).error).toBeInstanceOf(PeerDisconnectedError);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe('library: peers coming and going', () => {
  it('waits connectWaitMs and then says UnknownClientError for a name never seen', async () => {
    pipes = fixture();
    const server = await pipes.server({ connectWaitMs: 100 });
    const result = await settle(server.request('nobody', { noun: 'time' }));
    expect((result as { error: Error }).error).toBeInstanceOf(UnknownClientError);
  });

  it('says PeerUnavailableError for a client that was connected and left', async () => {
    pipes = fixture();
    const server = await pipes.server({ connectWaitMs: 100 });
    const client = await pipes.connectedClient(server.port, 'node-a');
    const gone = nextEvent(server, 'disconnect');
    await client.close();
    await gone;
    const result = await settle(server.request('node-a', { noun: 'time' }));
    expect((result as { error: Error }).error).toBeInstanceOf(PeerUnavailableError);
  });

  it('reconnects after the server restarts, with no call from the user', async () => {
    pipes = fixture();
    const first = await pipes.server({ handler: new ServerHandler() });
    const port = first.port;
    const client = await pipes.connectedClient(port, 'node-a');
    const dropped = nextEvent(client, 'disconnect');
    await first.close();
    await dropped;
    expect(client.isConnected).toBe(false);

    const second = await pipes.server({ handler: new ServerHandler(), port });
    await waitFor(() => client.isConnected, 'the client to reconnect');
    const answer = await client.request({ noun: 'square', args: ['12'] });
    expect(answer.data).toEqual({ n: 12, square: 144 });
    expect(second.clients().map((c) => c.name)).toEqual(['node-a']);
  });

  it('a request waits connectWaitMs for an absent server, then PeerUnavailableError', async () => {
    pipes = fixture();
    const client = pipes.client(1, 'node-a', { connectWaitMs: 150 });
    const started = Date.now();
    const result = await settle(client.request({ noun: 'time' }));
    expect((result as { error: Error }).error).toBeInstanceOf(PeerUnavailableError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('with a duplicate identity, the newer connection wins and the older is told and closed', async () => {
    pipes = fixture();
    const server = await pipes.server({ handler: new ServerHandler() });
    const older = await pipes.connectedClient(server.port, 'node-a', { reconnect: { minMs: 20, maxMs: 60_000 } });
    const olderDropped = nextEvent<[unknown, string]>(older, 'disconnect');
    const newer = await pipes.connectedClient(server.port, 'node-a', { handler: new ClientHandler() });
    const [, reason] = await olderDropped;
    expect(reason).toBe('goaway:duplicate_identity');
    expect(newer.isConnected).toBe(true);
    // The older one backs off fully (maxMs) instead of flapping.
    await new Promise((r) => setTimeout(r, 300));
    expect(older.isConnected).toBe(false);
    expect(server.clients()).toHaveLength(1);
    const answer = await server.request('node-a', { noun: 'whoami' });
    expect(answer.data).toMatchObject({ client_side: true });
  });

  it('emits reconnecting with growing, jittered delays while the server is away', async () => {
    pipes = fixture();
    const client = pipes.client(1, 'node-a', { reconnect: { minMs: 10, maxMs: 80 } });
    const seen: Array<{ attempt: number; delayMs: number }> = [];
    client.on('reconnecting', (info: { attempt: number; delayMs: number }) => seen.push(info));
    await waitFor(() => seen.length >= 6, 'six reconnect attempts');
    expect(seen.map((s) => s.attempt).slice(0, 3)).toEqual([2, 3, 4]);
    // Delays stay under the cap's upper bound (cap x2 would be a bug: p-retry caps after jitter).
    expect(Math.max(...seen.map((s) => s.delayMs))).toBeLessThan(80 + 60);
    expect(seen.at(-1)!.delayMs).toBeGreaterThan(seen[0]!.delayMs);
  });
});
