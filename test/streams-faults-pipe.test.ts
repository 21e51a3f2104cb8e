/**
 * Streams when things go wrong (SPEC §12), at library level: PipeServer and
 * PipeClient in this process, where both connections' open streams can be read
 * (`openStreams`, `clients()[].streams`). The same through real processes:
 * streams-faults.test.ts.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EventHandler, reply, StreamAbortedError, type EventBody, type EventContext } from '@restpipe/core';
import { FaultProxy } from './helpers/fault-proxy.js';
import { usePipeFixture } from './helpers/pipes.js';
import { waitFor } from './helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;

class LibraryHandler extends EventHandler {
  aborted: string[] = [];
  sourceDestroyed = false;

  get_endless(ctx: EventContext) {
    const source = Readable.from((function* () {
      for (;;) yield Buffer.alloc(64 * KiB, 1);
    })());
    ctx.signal.addEventListener('abort', () => this.aborted.push((ctx.signal.reason as Error).name));
    source.once('close', () => (this.sourceDestroyed = !source.readableEnded));
    return reply.stream(source, { mimeType: 'application/x-endless' });
  }

  async *get_broken() {
    yield Buffer.alloc(256 * KiB, 2);
    throw new Error('the disk went away');
  }

  post_ignore(_ctx: EventContext, body: EventBody) {
    return { streamed: body.streamed };
  }

  async post_sink(ctx: EventContext, body: EventBody) {
    ctx.signal.addEventListener('abort', () => this.aborted.push((ctx.signal.reason as Error).name));
    let bytes = 0;
    for await (const chunk of body.stream) bytes += (chunk as Buffer).length;
    return { bytes };
  }

  /** Reads its body only after its window has filled. */
  async post_late(_ctx: EventContext, body: EventBody) {
    await new Promise((r) => setTimeout(r, 300));
    let bytes = 0;
    for await (const chunk of body.stream) bytes += (chunk as Buffer).length;
    return { bytes };
  }

  get_mebibytes(_ctx: EventContext, _body: EventBody, n: string) {
    return Readable.from(pieces(Number(n) * 16));
  }
}

/** `count` pieces of 64 KiB. */
function* pieces(count: number): Generator<Buffer> {
  for (let i = 0; i < count; i++) yield Buffer.alloc(64 * KiB, i);
}

describe('stream faults at library level, where both connections can be read', () => {
  const suite = usePipeFixture();

  async function connected() {
    const handler = new LibraryHandler();
    const fixture = suite.fixture();
    const server = await fixture.server({ handler });
    const client = await fixture.connectedClient(server.port, 'node-a');
    const noStreams = () => waitFor(() => client.connection?.openStreams === 0 && server.clients()[0]?.streams === 0, 'no stream left on either side');
    return { handler, server, client, noStreams };
  }

  it('a caller that destroys a reply stream aborts the far signal and destroys the far source', async () => {
    const { handler, client, noStreams } = await connected();
    const response = await client.request({ noun: 'endless' });
    for await (const chunk of response.stream) if ((chunk as Buffer).length > 0) break;
    await waitFor(() => handler.aborted.length === 1 && handler.sourceDestroyed, 'the far handler to hear of it');
    expect(handler.aborted).toEqual(['CancelledError']);
    await noStreams();
  });

  it('a far source that fails errors the reply stream with StreamAbortedError', async () => {
    const { client, noStreams } = await connected();
    const response = await client.request({ noun: 'broken' });
    let bytes = 0;
    const failure = await (async () => {
      for await (const chunk of response.stream) bytes += (chunk as Buffer).length;
    })().then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(StreamAbortedError);
    expect((failure as Error).message).toMatch(/the disk went away/);
    expect(bytes).toBeLessThanOrEqual(256 * KiB);
    await noStreams();
  });

  it('a dropped connection fails every open stream at once, and the old connection holds none', async () => {
    const fixture = suite.fixture();
    const serverSide = new LibraryHandler();
    const clientSide = new LibraryHandler();
    const server = await fixture.server({ handler: serverSide });
    const proxy = await new FaultProxy(server.port).start();
    try {
      const client = await fixture.connectedClient(proxy.port, 'node-a', { handler: clientSide });
      const endless = (): Readable => Readable.from(pieces(Number.MAX_SAFE_INTEGER));
      const downloads = await Promise.all([client.request({ noun: 'endless' }), client.request({ noun: 'endless' })]);
      const reverse = await server.request('node-a', { noun: 'endless' });
      const uploads = [1, 2].map(() => client.request({ verb: 'post', noun: 'sink', body: endless() }).then(() => undefined, (error: Error) => error));
      const failures = [...downloads, reverse].map(({ stream }) => new Promise<Error>((resolve) => {
        stream.on('error', resolve);
        stream.resume();
      }));
      const old = client.connection!;
      await waitFor(() => old.openStreams === 5 && server.clients()[0]?.streams === 5, 'five streams open on each side (two reply bodies, two request bodies, one reply the other way)');

      proxy.reset();
      for (const error of await Promise.all([...failures, ...uploads])) expect(error?.name).toBe('PeerDisconnectedError');
      await waitFor(() => serverSide.aborted.length === 4 && clientSide.aborted.length === 1, 'every far handler aborted');
      expect(serverSide.aborted).toEqual(Array(4).fill('PeerDisconnectedError'));
      expect(clientSide.aborted).toEqual(['PeerDisconnectedError']);
      expect(old.openStreams).toBe(0);
      await waitFor(() => client.isConnected && client.connection !== old && server.isConnected('node-a'), 'the client to reconnect');
      expect(client.connection!.openStreams).toBe(0);
      expect(server.clients()[0]?.streams).toBe(0);
    } finally {
      await proxy.close();
    }
  });

  it('a handler that reads its body only once the window has filled gets all of it', async () => {
    const { client, noStreams } = await connected();
    const response = await client.request({ verb: 'post', noun: 'late', body: Readable.from(pieces(16)), timeoutMs: 5_000 });
    expect(response.data).toEqual({ bytes: MiB });
    await noStreams();
  });

  it('a caller that reads a reply stream only once the window has filled gets all of it', async () => {
    const { client, noStreams } = await connected();
    const response = await client.request({ noun: 'mebibytes', args: ['1'], timeoutMs: 5_000 });
    await new Promise((r) => setTimeout(r, 300));
    let bytes = 0;
    for await (const chunk of response.stream) bytes += (chunk as Buffer).length;
    expect(bytes).toBe(MiB);
    await noStreams();
  });

  it('a handler that does not read its streamed body stops the sender: the source is destroyed early', async () => {
    const { client, noStreams } = await connected();
    let yielded = 0;
    const source = Readable.from((function* () {
      for (let i = 0; i < 16 * 1024; i++) {
        yielded += 64 * KiB;
        yield Buffer.alloc(64 * KiB, 3);
      }
    })());
    const response = await client.request({ verb: 'post', noun: 'ignore', body: source });
    expect(response.data).toEqual({ streamed: true });
    await waitFor(() => source.destroyed, 'the source to be destroyed');
    // 1 GiB on offer; the sender read about one window's worth before it was stopped.
    expect(yielded).toBeLessThan(8 * MiB);
    await noStreams();
  });
});
