import { Readable } from 'node:stream';
import { InvalidArgumentError } from '@restpipe/wire';

/** What a streamed body may be given as (SPEC §12): a Node Readable or any async iterable of bytes. */
export type StreamSource = Readable | NodeJS.ReadableStream | AsyncIterable<Uint8Array | string>;

/** A Node stream that can be read: has `pipe`, `on` and `read`. Duck-typed: another copy of Node's stream module counts. */
export function isReadable(value: unknown): value is Readable {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { pipe?: unknown; on?: unknown; read?: unknown };
  return typeof candidate.pipe === 'function' && typeof candidate.on === 'function' && typeof candidate.read === 'function';
}

/** A Readable, or an async iterable that is not bytes or text itself. */
export function isStreamSource(value: unknown): value is StreamSource {
  if (isReadable(value)) return true;
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return false;
  return typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

/**
 * The source as a Readable to read chunk by chunk. An iterable is read one item
 * ahead at most (highWaterMark 1), so a generator of large chunks is not drained into memory.
 */
export function toReadable(source: StreamSource): Readable {
  if (source instanceof Readable) return source;
  if (isReadable(source)) return new Readable({ highWaterMark: 1 }).wrap(source);
  return Readable.from(source as AsyncIterable<unknown>, { objectMode: true, highWaterMark: 1 });
}

/** One chunk of a source as bytes: Buffers as they are, Uint8Arrays viewed, strings as UTF-8. */
export function chunkBytes(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new InvalidArgumentError(`a stream must yield Buffers, Uint8Arrays or strings, got ${chunk === null ? 'null' : typeof chunk}`);
}

/**
 * `pending`, and a streamed body (a Readable: the caller's file, socket) destroyed when it
 * fails: refused before it was sent, or failed on the way, the body is read by no one.
 */
export function releasingBody<T>(body: unknown, pending: Promise<T>): Promise<T> {
  if (!isReadable(body)) return pending;
  return pending.catch((error: unknown) => {
    body.destroy();
    throw error;
  });
}

/** A small body as a Readable of one chunk (none when empty). */
export function readableOf(raw: Buffer): Readable {
  return Readable.from(raw.length === 0 ? [] : [raw], { objectMode: false });
}
