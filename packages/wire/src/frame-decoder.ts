import { FrameTooLargeError } from './errors.js';
import { LENGTH_PREFIX_BYTES } from './frames.js';

const EMPTY = Buffer.alloc(0);

/**
 * Splits a byte stream into frame bodies. Pure: no I/O, no timers.
 *
 * Accepts input split at any point. A declared length above `maxFrameBytes` throws
 * FrameTooLargeError from the prefix alone, before a byte of the body is buffered
 * or allocated. After a throw the decoder must be discarded with its connection.
 */
export class FrameDecoder {
  readonly #chunks: Buffer[] = [];
  #buffered = 0;
  /** Body length of the frame being read, or -1 while reading a prefix. */
  #bodyBytes = -1;

  constructor(readonly maxFrameBytes: number) {}

  /** Bytes held while waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Feeds a chunk; returns every frame body it completes, in order. */
  push(chunk: Buffer): Buffer[] {
    const bodies: Buffer[] = [];
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    for (;;) {
      if (this.#bodyBytes < 0) {
        if (this.#buffered < LENGTH_PREFIX_BYTES) break;
        this.#bodyBytes = this.#readLength();
      }
      if (this.#buffered < this.#bodyBytes) break;
      bodies.push(this.#take(this.#bodyBytes));
      this.#bodyBytes = -1;
    }
    return bodies;
  }

  #readLength(): number {
    const length = this.#take(LENGTH_PREFIX_BYTES).readUInt32BE(0);
    if (length > this.maxFrameBytes) {
      throw new FrameTooLargeError(length, this.maxFrameBytes);
    }
    return length;
  }

  /** Removes `n` bytes from the front; copies only when they span chunks. */
  #take(n: number): Buffer {
    if (n === 0) return EMPTY;
    this.#buffered -= n;
    const first = this.#chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    return this.#gather(n);
  }

  #gather(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let offset = 0;
    while (offset < n) {
      const head = this.#chunks[0]!;
      const used = Math.min(head.length, n - offset);
      head.copy(out, offset, 0, used);
      offset += used;
      if (used === head.length) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(used);
    }
    return out;
  }
}
