import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EventHandler, reply, type EventBody, type EventContext } from '@restpipe/core';
import { usePipeFixture } from './helpers/pipes.js';

const MiB = 1024 * 1024;
const suite = usePipeFixture();

/** `total` bytes of a repeatable pattern, in `chunk`-sized pieces, made as they are read. */
function* pattern(total: number, chunk = 256 * 1024): Generator<Buffer> {
  let n = 0;
  for (let sent = 0; sent < total; sent += chunk) {
    const piece = Buffer.alloc(Math.min(chunk, total - sent));
    for (let i = 0; i < piece.length; i += 4) piece.writeUInt32LE((n++ * 2654435761) >>> 0, i);
    yield piece;
  }
}

function sha(total: number): string {
  const hash = createHash('sha256');
  for (const piece of pattern(total)) hash.update(piece);
  return hash.digest('hex');
}

async function hashOf(stream: Readable): Promise<{ hash: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { hash: hash.digest('hex'), bytes };
}

class Handler extends EventHandler {
  async post_sink(_ctx: EventContext, body: EventBody) {
    return { ...(await hashOf(body.stream)), streamed: body.streamed, size: body.size ?? null };
  }
  get_source(_ctx: EventContext, _body: EventBody, size: string) {
    return reply.stream(Readable.from(pattern(Number(size))), { mimeType: 'application/x-test', size: Number(size) });
  }
  post_echo(_ctx: EventContext, body: EventBody) {
    return body.stream;
  }
  async *get_generated() {
    yield Buffer.from('one,');
    yield 'two';
  }
}

describe('streams through the pipe (SPEC §12)', () => {
  it('streams a request body up and a reply body down, with their sizes', async () => {
    const fixture = suite.fixture();
    const server = await fixture.server({ handler: new Handler() });
    const client = await fixture.connectedClient(server.port, 'node-a');
    const up = await client.request({ verb: 'post', noun: 'sink', body: Readable.from(pattern(40 * MiB)), size: 40 * MiB });
    expect(up.data).toEqual({ hash: sha(40 * MiB), bytes: 40 * MiB, streamed: true, size: 40 * MiB });

    const response = await client.request({ noun: 'source', args: [String(40 * MiB)] });
    expect(response.streamed).toBe(true);
    expect(response.size).toBe(40 * MiB);
    expect(response.mimeType).toBe('application/x-test');
    expect(() => response.raw).toThrow(/stream/);
    expect(await hashOf(response.stream)).toEqual({ hash: sha(40 * MiB), bytes: 40 * MiB });
  });

  it('echoes a stream, and takes an async generator as a reply', async () => {
    const fixture = suite.fixture();
    const server = await fixture.server({ handler: new Handler() });
    const client = await fixture.connectedClient(server.port, 'node-a');
    const echo = await client.request({ verb: 'post', noun: 'echo', body: Readable.from(pattern(20 * MiB)) });
    expect(await hashOf(echo.stream)).toEqual({ hash: sha(20 * MiB), bytes: 20 * MiB });
    const generated = await client.request({ noun: 'generated' });
    expect((await hashOf(generated.stream)).bytes).toBe(7);
    const small = await client.request({ verb: 'post', noun: 'sink', body: Buffer.from('hello') });
    expect(small.data).toMatchObject({ bytes: 5, streamed: false, size: 5 });
  });
});
