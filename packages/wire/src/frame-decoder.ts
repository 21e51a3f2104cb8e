import { FrameTooLargeError } from '@restpipe/errors';
import { LENGTH_PREFIX_BYTES, type Frame } from './frame-types.js';
import { decodeFrameWith } from './frames.js';
import { HotReader } from './hot-reader.js';

const EMPTY = Buffer.alloc(0);

/**
 * Splits a byte stream into frame bodies, and decodes them. Pure: no I/O, no
 * timers, and no state shared with another FrameDecoder.
 *
 * Accepts input split at any point. A declared length above `maxFrameBytes` throws
 * FrameTooLargeError from the prefix alone, before a byte of the body is buffered
 * or allocated. After a throw the decoder must be discarded with its connection.
 */
export class FrameDecoder {
  readonly #chunks: Buffer[] = [];
  /** Bytes of the first chunk already taken. */
  #headOffset = 0;
  #buffered = 0;
  /** Body length of the frame being read, or -1 while reading a prefix. */
  #bodyBytes = -1;
  /** This decoder's hot codec: its memos of verbs and media types last from frame to frame. */
  readonly #reader = new HotReader();

  constructor(readonly maxFrameBytes: number) {}

  /** Bytes held while waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /**
   * Decodes one frame body (a body this decoder cut, or any): decodeFrame, with
   * this decoder's reader. Throws ProtocolError on anything malformed.
   */
  decode(body: Buffer): Frame {
    return decodeFrameWith(this.#reader, body);
  }

  /** Feeds a chunk; returns every frame body it completes, in order. */
  push(chunk: Buffer): Buffer[] {
    const bodies: Buffer[] = [];
    this.each(chunk, (body) => bodies.push(body) > 0);
    return bodies;
  }

  /**
   * Feeds a chunk and hands each frame body it completes to `onBody`, in order.
   * When onBody returns false, decoding stops there and the rest is kept: the
   * next call (with an empty chunk to add nothing) starts with the frame after
   * the one refused. No arrays per call: a chunk of whole frames, the usual
   * case, is cut into views where it lies and never queued.
   */
  each(chunk: Buffer, onBody: (body: Buffer) => boolean): void {
    let offset = 0;
    if (this.#chunks.length === 0 && this.#bodyBytes < 0) {
      offset = this.#eachWhole(chunk, onBody);
      if (offset === chunk.length) return;
      if (offset < 0) {
        this.#keep(chunk, -offset - 1);
        return;
      }
    }
    this.#keep(chunk, offset);
    this.#drainBuffered(onBody);
  }

  /** Buffers a chunk without decoding it: the next each() starts with it. */
  hold(chunk: Buffer): void {
    this.#keep(chunk, 0);
  }

  /** Buffers what is left of a chunk from `offset` on. */
  #keep(chunk: Buffer, offset: number): void {
    if (chunk.length > offset) {
      this.#chunks.push(offset === 0 ? chunk : chunk.subarray(offset));
      this.#buffered += chunk.length - offset;
    }
  }

  #drainBuffered(onBody: (body: Buffer) => boolean): void {
    for (;;) {
      if (this.#bodyBytes < 0) {
        if (this.#buffered < LENGTH_PREFIX_BYTES) return;
        this.#bodyBytes = this.#readLength();
      }
      if (this.#buffered < this.#bodyBytes) return;
      const body = this.#take(this.#bodyBytes);
      this.#bodyBytes = -1;
      if (!onBody(body)) return;
    }
  }

  /**
   * With nothing buffered: takes the whole frames at the front of `chunk` in place.
   * Returns where the unfinished rest begins, or, when onBody said stop, -1 - the
   * offset of what follows the refused frame.
   */
  #eachWhole(chunk: Buffer, onBody: (body: Buffer) => boolean): number {
    let offset = 0;
    while (chunk.length - offset >= LENGTH_PREFIX_BYTES) {
      const length = this.#allowed(chunk.readUInt32BE(offset));
      const end = offset + LENGTH_PREFIX_BYTES + length;
      if (end > chunk.length) break;
      const body = length === 0 ? EMPTY : chunk.subarray(offset + LENGTH_PREFIX_BYTES, end);
      offset = end;
      if (!onBody(body)) return -1 - offset;
    }
    return offset;
  }

  #readLength(): number {
    const first = this.#chunks[0]!;
    let length: number;
    if (first.length - this.#headOffset > LENGTH_PREFIX_BYTES) {
      // The usual case: read the prefix where it lies, without a view of it.
      length = first.readUInt32BE(this.#headOffset);
      this.#headOffset += LENGTH_PREFIX_BYTES;
      this.#buffered -= LENGTH_PREFIX_BYTES;
    } else {
      length = this.#take(LENGTH_PREFIX_BYTES).readUInt32BE(0);
    }
    return this.#allowed(length);
  }

  /** A declared body length, refused from the prefix alone when above the maximum. */
  #allowed(length: number): number {
    if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
    return length;
  }

  /** Removes `n` bytes from the front; copies only when they span chunks. */
  #take(n: number): Buffer {
    if (n === 0) return EMPTY;
    this.#buffered -= n;
    const first = this.#chunks[0]!;
    const start = this.#headOffset;
    const available = first.length - start;
    if (available < n) return this.#gather(n);
    if (available === n) {
      this.#chunks.shift();
      this.#headOffset = 0;
    } else {
      this.#headOffset = start + n;
    }
    return first.subarray(start, start + n);
  }

  #gather(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let offset = 0;
    while (offset < n) {
      const head = this.#chunks[0]!;
      const start = this.#headOffset;
      const used = Math.min(head.length - start, n - offset);
      head.copy(out, offset, start, start + used);
      offset += used;
      if (start + used === head.length) {
        this.#chunks.shift();
        this.#headOffset = 0;
      } else {
        this.#headOffset = start + used;
      }
    }
    return out;
  }
}
