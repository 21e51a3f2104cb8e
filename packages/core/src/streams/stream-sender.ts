import type { Readable } from 'node:stream';
import { BodyTooLargeError, EventTimeoutError, StreamAbortedError, type StreamRef } from '@restpipe/wire';
import { IdleTimer } from './idle-timer.js';
import { chunkBytes } from './stream-source.js';
import { describe, MAX_STREAM_FRAME_BYTES } from './stream-ref.js';

/** What a sender needs of its connection's stream table. */
export interface SenderLink {
  /** Wants a turn: it has bytes in hand and credit for them. */
  ready(sender: StreamSender): void;
  data(ref: StreamRef, chunk: Buffer): void;
  end(ref: StreamRef, aborted: boolean, message: string): void;
  /** The sender is done, with the error that ended it early (none: a clean end). */
  done(sender: StreamSender, error: Error | undefined): void;
  /** Bytes of one frame at most: 64 KiB, or less when the peer's frames must be smaller. */
  readonly frameBytes: number;
}

export interface SenderOptions {
  /** Credit to start with: the peer's window. */
  window: number;
  /** `--max-stream-bytes`; 0: no limit. */
  maxBytes: number;
  /** Aborted after this long with no data moved (the deadline). */
  idleMs: number;
  /** Data moved: a frame sent or credit granted. */
  onActivity?: (() => void) | undefined;
  /** The request's id, for the log line of the stream's end. */
  requestId?: string | undefined;
}

/** Bytes read ahead of the credit, past which the source is paused. */
const READ_AHEAD_BYTES = MAX_STREAM_FRAME_BYTES;

/**
 * One stream this side sends: reads its source no further ahead than one frame,
 * sends only within the credit its receiver granted, and ends it clean or
 * aborted. The table gives it turns (round-robin with the other streams).
 * The source is destroyed whenever the stream ends early.
 */
export class StreamSender {
  readonly #chunks: Buffer[] = [];
  #queued = 0;
  #credit: number;
  #sent = 0;
  /** Bytes sent to the peer so far. */
  bytes = 0;
  readonly startedAt = performance.now();
  #sourceEnded = false;
  #finished = false;
  /** In the table's ready queue. */
  inQueue = false;
  readonly #idle: IdleTimer;

  constructor(
    readonly ref: StreamRef,
    private readonly source: Readable,
    private readonly link: SenderLink,
    private readonly options: SenderOptions,
  ) {
    this.#credit = options.window;
    this.#idle = new IdleTimer(options.idleMs, () => this.abort(new EventTimeoutError(`the ${describe(ref)} moved no data for ${options.idleMs} ms`)));
    source.on('data', this.#onData);
    source.once('end', this.#onEnd);
    source.once('error', this.#onError);
    source.once('close', this.#onClose);
    // Handed over already finished: its events are gone.
    if (source.readableEnded) queueMicrotask(this.#onEnd);
    else if (source.destroyed) queueMicrotask(this.#onClose);
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** Bytes in hand, and credit to send some of them. */
  get canSend(): boolean {
    return !this.#finished && this.#queued > 0 && this.#credit > 0;
  }

  /** The receiver granted more. A credit that would pass 2^32 is the peer's error, caught by the table. */
  grant(bytes: number): void {
    if (this.#finished) return;
    this.#credit += bytes;
    this.#touch();
    if (this.canSend) this.link.ready(this);
  }

  get credit(): number {
    return this.#credit;
  }

  /**
   * Sends one frame of at most frameBytes and the credit: the head chunk, or a view of it
   * (no copy); small chunks queued behind each other go together (one copy), so a source
   * of tiny pieces does not become as many frames for the receiver to hold.
   */
  sendOne(): void {
    if (!this.canSend) return;
    const room = Math.min(this.#credit, this.link.frameBytes);
    const piece = this.#chunks[0]!.length >= room || this.#chunks.length === 1 ? this.#take(room) : this.#gather(room);
    const n = piece.length;
    this.#queued -= n;
    this.#credit -= n;
    this.bytes += n;
    this.#touch();
    this.link.data(this.ref, piece);
    if (this.#queued === 0 && this.#sourceEnded) return this.#finish(undefined, false);
    if (this.#queued < READ_AHEAD_BYTES && this.source.isPaused()) this.source.resume();
  }

  /** Up to `room` bytes of the head chunk. */
  #take(room: number): Buffer {
    const head = this.#chunks[0]!;
    if (head.length <= room) return this.#chunks.shift()!;
    this.#chunks[0] = head.subarray(room);
    return head.subarray(0, room);
  }

  /** Up to `room` bytes of the chunks in hand, in one buffer. */
  #gather(room: number): Buffer {
    const parts: Buffer[] = [];
    let n = 0;
    while (n < room && this.#chunks.length > 0) {
      const part = this.#take(room - n);
      parts.push(part);
      n += part.length;
    }
    return Buffer.concat(parts, n);
  }

  /** The receiver said stop: nothing more is sent, and the source is destroyed. */
  stop(error: Error): void {
    this.#finish(error, true, false);
  }

  /** This side ends the stream early (deadline, cancel, the source failed): the receiver is told it was aborted. */
  abort(error: Error): void {
    this.#finish(error, true, true);
  }

  /** The connection is gone: nothing can be sent. */
  lost(error: Error): void {
    this.#finish(error, true, false);
  }

  #touch(): void {
    this.#idle.touch();
    this.options.onActivity?.();
  }

  readonly #onData = (chunk: unknown): void => {
    if (this.#finished) return;
    let bytes: Buffer;
    try {
      bytes = chunkBytes(chunk);
    } catch (error) {
      return this.abort(error as Error);
    }
    if (bytes.length === 0) return;
    this.#sent += bytes.length;
    if (this.options.maxBytes > 0 && this.#sent > this.options.maxBytes) {
      return this.abort(new BodyTooLargeError(`streamed body exceeds --max-stream-bytes (${this.options.maxBytes})`));
    }
    this.#chunks.push(bytes);
    this.#queued += bytes.length;
    if (this.#queued >= READ_AHEAD_BYTES) this.source.pause();
    if (this.#credit > 0) this.link.ready(this);
  };

  readonly #onEnd = (): void => {
    this.#sourceEnded = true;
    if (this.#queued === 0) this.#finish(undefined, false);
  };

  readonly #onError = (error: Error): void => {
    this.abort(new StreamAbortedError(`the source of the ${describe(this.ref)} failed: ${error.message}`, { cause: error }));
  };

  /** Destroyed without an end: as good as failed. */
  readonly #onClose = (): void => {
    if (!this.#sourceEnded) this.abort(new StreamAbortedError(`the source of the ${describe(this.ref)} closed before its end`));
  };

  #finish(error: Error | undefined, destroySource: boolean, tellPeer = true): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#idle.stop();
    this.#chunks.length = 0;
    this.#queued = 0;
    const { source } = this;
    source.off('data', this.#onData);
    source.off('end', this.#onEnd);
    source.off('close', this.#onClose);
    // A late error from the source must not go unhandled once we stop listening.
    source.off('error', this.#onError);
    source.on('error', ignore);
    if (tellPeer) this.link.end(this.ref, error !== undefined, error ? error.message : '');
    if (destroySource && !source.destroyed) source.destroy();
    this.link.done(this, error);
  }
}

function ignore(): void {}
