/**
 * Peers that break the stream protocol (SPEC §12), or are too old to speak it,
 * driven by hand (RawPeer) against a real PipeServer, while a real client of the
 * same server looks on: a broken stream closes that connection only.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  BodyTooLargeError, EventHandler, PROTOCOL_VERSION, reply, type EventBody, type EventContext, type EventFrame, type Frame, type PipeServer,
} from '@restpipe/core';
import { listenServerGateway } from './helpers/gateway.js';
import { usePipeFixture } from './helpers/pipes.js';
import { RawPeer } from './helpers/raw-peer.js';
import { settle, waitFor } from './helpers/wait.js';

const KiB = 1024;
const WINDOW = 64 * KiB;
const suite = usePipeFixture();

class Handler extends EventHandler {
  /** Never touches its body: grants nothing past the first window, and must not crash the node when it fails. */
  async post_hold(ctx: EventContext) {
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
  }

  async post_sink(_ctx: EventContext, body: EventBody) {
    let bytes = 0;
    for await (const chunk of body.stream) bytes += (chunk as Buffer).length;
    return { bytes };
  }

  post_ignore(_ctx: EventContext, body: EventBody) {
    return { streamed: body.streamed };
  }

  /** One piece, then nothing (the stream stays open): credit granted to it piles up. */
  get_trickle() {
    const source = new Readable({ read() {} });
    source.push(Buffer.alloc(16 * KiB, 6));
    return reply.stream(source, { mimeType: 'application/x-trickle' });
  }

  get_endless() {
    return reply.stream(Readable.from((function* () {
      for (;;) yield Buffer.alloc(16 * KiB, 5);
    })()), { mimeType: 'application/x-endless' });
  }

  get_cat(_ctx: EventContext, _body: EventBody, ...parts: string[]) {
    return { result_from_server: parts.join('') };
  }
}

function event(id: number, verb: string, noun: string, fields: Partial<EventFrame> = {}): Frame {
  return {
    kind: 'event',
    event: { id, verb, noun: [noun], args: [], query: [], mimeType: 'application/octet-stream', data: Buffer.alloc(0), timeoutMs: 30_000, requestId: `hostile-${id}`, ...fields },
  };
}

const data = (id: number, bytes: number): Frame => ({ kind: 'streamData', streamData: { id, reply: false, data: Buffer.alloc(bytes, 9) } });
const end = (id: number): Frame => ({ kind: 'streamEnd', streamEnd: { id, reply: false, aborted: false, message: '' } });
const credit = (id: number, bytes: number): Frame => ({ kind: 'streamWindow', streamWindow: { id, reply: true, bytes, stop: false } });

/** A server with a real client on it whose requests must go on working. */
async function withBystander(options: { maxStreams?: number } = {}) {
  const pipes = suite.fixture();
  const server = await pipes.server({ handler: new Handler(), streamWindowBytes: WINDOW, ...options });
  const bystander = await pipes.connectedClient(server.port, 'bystander');
  const stillWorks = async (): Promise<void> => {
    expect((await bystander.request({ noun: 'cat', args: ['a', 'b'] })).data).toEqual({ result_from_server: 'ab' });
    // Its streams too.
    const sunk = await bystander.request({ verb: 'post', noun: 'sink', body: Readable.from([Buffer.alloc(200 * KiB)]) });
    expect(sunk.data).toEqual({ bytes: 200 * KiB });
  };
  return { server, stillWorks };
}

/** A raw peer that said Hello (with a stream window, unless `old`) and was registered. */
async function mallory(server: PipeServer & { port: number }, old = false): Promise<RawPeer> {
  const peer = await RawPeer.connect(server.port, suite.pki.client('mallory'), suite.pki.ca.certPem);
  if (old) {
    peer.hello();
  } else {
    peer.send({ kind: 'hello', hello: {
      protocolVersion: PROTOCOL_VERSION, software: 'raw-peer', heartbeatMs: 60_000, maxEventBytes: 1 << 20, maxInFlight: 16, maxConcurrency: 4, maxInboundBytes: 0, streamWindow: WINDOW,
    } });
  }
  await waitFor(() => server.isConnected('mallory'), 'mallory to register');
  return peer;
}

function replyTo(peer: RawPeer, id: number) {
  const frame = peer.frames.find((f) => f.kind === 'reply' && f.reply.id === id);
  return frame?.kind === 'reply' ? frame.reply : undefined;
}

function codeOf(reply: { data: Uint8Array }): string {
  return JSON.parse(Buffer.from(reply.data).toString()).exception.code;
}

/** The connection is up and reading: a Ping gets its Pong. */
async function answersPing(peer: RawPeer, seq: number): Promise<void> {
  peer.send({ kind: 'ping', ping: { seq } });
  await waitFor(() => peer.frames.some((f) => f.kind === 'pong' && f.pong.seq === seq), `pong ${seq}`);
  expect(peer.closed).toBe(false);
  expect(peer.goawayReason()).toBeUndefined();
}

describe('a peer that breaks the stream protocol loses its connection, and only it', () => {
  const cases: Array<[string, (peer: RawPeer) => Promise<void>]> = [
    ['more data than the window granted', async (peer) => {
      peer.send(event(1, 'post', 'hold', { streamed: true }));
      peer.send(data(1, WINDOW));
      peer.send(data(1, 1));
    }],
    ['StreamData for a stream that was never opened', async (peer) => peer.send(data(99, 10))],
    ['StreamData after its StreamEnd', async (peer) => {
      peer.send(event(1, 'post', 'hold', { streamed: true }));
      peer.send(data(1, 10));
      peer.send(end(1));
      peer.send(data(1, 10));
    }],
    ['StreamEnd for a stream that was never opened', async (peer) => peer.send(end(99))],
    ['a window update that takes the credit past 2^32-1', async (peer) => {
      // The sender keeps 48 KiB of its first 64 KiB credit: 2^32-1 more is too much.
      peer.send(event(1, 'get', 'trickle'));
      await waitFor(() => peer.frames.some((f) => f.kind === 'streamData' && f.streamData.id === 1), 'the reply stream to start');
      peer.send(credit(1, 0xffff_ffff));
    }],
  ];

  it.each(cases)('%s: Goaway protocol_error', async (_what, misbehave) => {
    const { server, stillWorks } = await withBystander();
    const peer = await mallory(server);
    await misbehave(peer);
    await waitFor(() => peer.closed, 'the server to close mallory');
    expect(peer.goawayReason()).toBe('protocol_error');
    expect(server.isConnected('mallory')).toBe(false);
    await stillWorks();
  });

  it('drops data for a stream this side stopped lately, without closing', async () => {
    const { server, stillWorks } = await withBystander();
    const peer = await mallory(server);
    peer.send(event(1, 'post', 'ignore', { streamed: true }));
    await waitFor(() => replyTo(peer, 1), 'the reply of the handler that reads nothing');
    await waitFor(() => peer.frames.some((f) => f.kind === 'streamWindow' && f.streamWindow.id === 1 && f.streamWindow.stop), 'the stop of its body');
    expect(JSON.parse(Buffer.from(replyTo(peer, 1)!.data).toString())).toEqual({ streamed: true });
    // What was on its way when the stop went out.
    peer.send(data(1, 1000));
    peer.send(data(1, 1000));
    peer.send(end(1));
    await answersPing(peer, 7);
    peer.send(event(3, 'get', 'cat', { args: ['x', 'y'] }));
    await waitFor(() => replyTo(peer, 3), 'a later event answered');
    expect(server.isConnected('mallory')).toBe(true);
    await stillWorks();
  });

  it('answers 503 to streamed events past maxStreams, and the connection stays up', async () => {
    const { server, stillWorks } = await withBystander({ maxStreams: 2 });
    const peer = await mallory(server);
    for (const id of [1, 3, 5]) peer.send(event(id, 'post', 'sink', { streamed: true }));
    const refused = await waitFor(() => replyTo(peer, 5), 'the third stream refused');
    expect(refused.status).toBe(503);
    expect(codeOf(refused)).toBe('RP_ERR_TOO_MANY_IN_FLIGHT');
    await waitFor(() => peer.frames.some((f) => f.kind === 'streamWindow' && f.streamWindow.id === 5 && f.streamWindow.stop), 'the stop of the refused body');
    // The refused body, already on its way, is dropped; the two taken go on.
    peer.send(data(5, 100));
    peer.send(end(5));
    for (const id of [1, 3]) {
      peer.send(data(id, 100 * id));
      peer.send(end(id));
    }
    for (const id of [1, 3]) {
      const answer = await waitFor(() => replyTo(peer, id), `the reply to stream ${id}`);
      expect(JSON.parse(Buffer.from(answer.data).toString())).toEqual({ bytes: 100 * id });
    }
    await answersPing(peer, 9);
    expect(server.clients().find((c) => c.name === 'mallory')?.streams).toBe(0);
    await stillWorks();
  });
});

describe('a peer whose Hello grants no stream window (an older restpipe)', () => {
  it('gets 413 for a handler\'s stream reply, and nothing of the stream', async () => {
    const { server, stillWorks } = await withBystander();
    const peer = await mallory(server, true);
    peer.send(event(1, 'get', 'endless'));
    const refused = await waitFor(() => replyTo(peer, 1), 'the reply');
    expect(refused.status).toBe(413);
    expect(codeOf(refused)).toBe('RP_ERR_BODY_TOO_LARGE');
    await answersPing(peer, 3);
    expect(peer.frames.filter((f) => f.kind === 'streamData' || f.kind === 'streamEnd')).toEqual([]);
    await stillWorks();
  });

  it('is never sent a body that would need a stream: BodyTooLargeError, 413 at the gateway', async () => {
    const { server } = await withBystander();
    const peer = await mallory(server, true);
    const source = Readable.from([Buffer.alloc(10)]);
    const direct = await settle(server.request('mallory', { verb: 'post', noun: 'sink', body: source }));
    expect(direct.ok).toBe(false);
    expect((direct as { error: Error }).error).toBeInstanceOf(BodyTooLargeError);
    expect(source.destroyed).toBe(true);

    const { gateway, base } = await listenServerGateway(server);
    try {
      // Over the gateway's 1 MiB --max-event-bytes, with its length and without (chunked).
      const sized = await fetch(`${base}/client/mallory/sink`, { method: 'POST', body: Buffer.alloc(2 << 20), headers: { 'content-type': 'application/octet-stream' } });
      expect(sized.status).toBe(413);
      expect(((await sized.json()) as { exception: { code: string } }).exception.code).toBe('RP_ERR_BODY_TOO_LARGE');
      const chunked = await fetch(`${base}/client/mallory/sink`, {
        method: 'POST', body: Readable.toWeb(Readable.from([Buffer.alloc(10)])) as ReadableStream, duplex: 'half', headers: { 'content-type': 'application/octet-stream' },
      } as RequestInit);
      expect(chunked.status).toBe(413);
      expect(((await chunked.json()) as { exception: { code: string } }).exception.code).toBe('RP_ERR_BODY_TOO_LARGE');
    } finally {
      // The 413s went out before their bodies were read (they are drained): no keep-alive wait.
      gateway.server.closeAllConnections();
      await gateway.close();
    }
    await answersPing(peer, 5);
    expect(peer.frames.filter((f) => f.kind === 'event')).toEqual([]);
  });
});
