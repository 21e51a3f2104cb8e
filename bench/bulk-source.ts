/**
 * The bytes of the stream bench (bench/stream.ts), cheap to make: one 64 KiB Buffer,
 * handed out again and again (its contents never change, so a writer that keeps a
 * reference to an earlier chunk still sends the right bytes). Shared by the rp-server
 * handler (bench/stream-handler.ts) and the floors in bench/child.ts.
 */
import type { Readable, Writable } from 'node:stream';

export const BULK_CHUNK_BYTES = 64 * 1024;
const CHUNK = Buffer.alloc(BULK_CHUNK_BYTES, 0x63);

/** `bytes` bytes in 64 KiB Buffers: the same Buffer each time, a view of it last. */
export function* bulkChunks(bytes: number): Generator<Buffer> {
  for (let left = bytes; left > 0; left -= BULK_CHUNK_BYTES) yield left >= BULK_CHUNK_BYTES ? CHUNK : CHUNK.subarray(0, left);
}

/** Writes `bytes` bulk bytes to `out`, waiting for 'drain' whenever it asks to. */
export async function writeBulk(out: Writable, bytes: number): Promise<void> {
  for (const chunk of bulkChunks(bytes)) {
    if (out.destroyed) throw new Error('bench: the bulk destination closed early');
    if (!out.write(chunk)) await drained(out);
  }
}

function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      out.off('drain', done).off('close', closed).off('error', done);
      if (error) reject(error);
      else resolve();
    };
    const closed = (): void => done(new Error('bench: the bulk destination closed early'));
    out.on('drain', done).on('close', closed).on('error', done);
  });
}

/** Reads `source` to its end, keeping nothing; resolves the byte count. */
export async function drain(source: Readable | AsyncIterable<Buffer>): Promise<number> {
  let bytes = 0;
  for await (const chunk of source) bytes += (chunk as Buffer).length;
  return bytes;
}
