import { Readable } from 'node:stream';
import { BodyTooLargeError, EventTimeoutError, StreamAbortedError, type StreamRef } from '@restpipe/wire';
import { IdleTimer } from './idle-timer.js';
import { describe } from './stream-ref.js';

/** What a receiver needs of its connection's stream table. */
export interface ReceiverLink {
  /** The reader made room: the sender may send `bytes` more. */
  grant(ref: StreamRef, bytes: number): void;
  /** The reader went away before the end: the sender must stop. */
  stop(ref: StreamRef): void;
  done(receiver: StreamReceiver): void;
}

export interface ReceiverOptions {
  /** `--stream-window-bytes`: granted at first, and the most ever buffered or in flight. */
  window: number;
  /** `--max-stream-bytes`; 0: no limit. */
  maxBytes: number;
  /** Aborted after this long with no data moved (the deadline). */
  idleMs: number;
  /** Size the sender announced, 0 when unknown. */
  size: number;
  onActivity?: (() => void) | undefined;
  /** The request's id, for the log line of the stream's end. */
  requestId?: string | undefined;
}

/**
 * A stream this side receives, as the Readable a handler or caller reads. The
 * sender may have at most `window` bytes buffered here or on their way; more
 * is granted only as the reader takes them (as HTTP/2's WINDOW_UPDATE), so a
 * reader that stops stops the sender, and memory stays within the window.
 */
export class StreamReceiver extends Readable {
  /** Everything granted so far, the first window included. */
  #granted: number;
  #received = 0;
  #peerEnded = false;
  #gone = false;
  readonly startedAt = performance.now();
  /** How it ended, once it has: see StreamMessage. */
  outcome: { outcome: 'end' | 'stopped' | 'aborted'; error: Error | undefined } | undefined;
  readonly #idle: IdleTimer;

  constructor(
    readonly ref: StreamRef,
    private readonly link: ReceiverLink,
    private readonly options: ReceiverOptions,
  ) {
    super({ highWaterMark: options.window });
    this.#granted = options.window;
    // A reader that has not started (a handler still busy, a caller not yet reading) must not
    // crash the node when the stream fails: the error waits for it in the stream's state.
    this.on('error', ignore);
    this.#idle = new IdleTimer(options.idleMs, () => {
      this.destroy(new EventTimeoutError(`the ${describe(ref)} moved no data for ${options.idleMs} ms`));
    });
  }

  /** Bytes from the sender. Returns an error to close the connection with when the sender broke its window. */
  onData(chunk: Buffer): string | undefined {
    this.#received += chunk.length;
    if (this.#received > this.#granted) return `${describe(this.ref)}: ${this.#received - this.#granted} bytes past the window granted`;
    if (this.destroyed) return undefined;
    if (this.options.maxBytes > 0 && this.#received > this.options.maxBytes) {
      this.destroy(new BodyTooLargeError(`streamed body exceeds --max-stream-bytes (${this.options.maxBytes})`));
      return undefined;
    }
    if (this.options.size > 0 && this.#received > this.options.size) {
      this.destroy(new StreamAbortedError(`${describe(this.ref)} is longer than the ${this.options.size} bytes its sender announced`));
      return undefined;
    }
    this.#touch();
    this.push(chunk);
    return undefined;
  }

  /** The sender's last frame. */
  onEnd(aborted: boolean, message: string): void {
    this.#peerEnded = true;
    this.#idle.stop();
    if (this.destroyed) return;
    if (aborted) this.destroy(new StreamAbortedError(message || `the sender aborted the ${describe(this.ref)}`));
    else if (this.options.size > 0 && this.#received !== this.options.size) {
      // A Content-Length was promised: a short body must not pass for a whole one.
      this.destroy(new StreamAbortedError(`${describe(this.ref)} ended after ${this.#received} of the ${this.options.size} bytes its sender announced`));
    } else this.push(null);
  }

  /** The connection is gone: fails the reader, and tells no one. */
  lost(error: Error): void {
    this.#gone = true;
    this.destroy(error);
  }

  override _read(): void {
    if (this.#peerEnded || this.#grantRoom()) return;
    // Node asks before it takes the chunk being read out of the buffer: a full window then
    // shows no room, and with nothing on its way no push would ever come to ask again.
    if (this.#granted === this.#received) process.nextTick(this.#regrant);
  }

  /** After the read that asked: the chunk it took is room now. */
  readonly #regrant = (): void => {
    if (this.destroyed || this.#peerEnded || this.#grantRoom() || this.#granted !== this.#received) return;
    // Still nothing read: an empty push clears Node's "reading" flag, so the next read() asks again.
    this.push(EMPTY);
  };

  /** Grants in steps of a quarter window, or whatever room there is once the sender has nothing left to send. */
  #grantRoom(): boolean {
    const outstanding = this.#granted - this.#received;
    const room = this.options.window - this.readableLength - outstanding;
    if (room <= 0 || (room < this.options.window / 4 && outstanding > 0)) return false;
    this.#granted += room;
    this.#touch();
    this.link.grant(this.ref, room);
    return true;
  }

  /** Bytes received so far. */
  get bytes(): number {
    return this.#received;
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#idle.stop();
    this.outcome = error ? { outcome: 'aborted', error } : { outcome: this.#peerEnded ? 'end' : 'stopped', error: undefined };
    if (!this.#peerEnded && !this.#gone) this.link.stop(this.ref);
    this.link.done(this);
    callback(error);
  }

  #touch(): void {
    this.#idle.touch();
    this.options.onActivity?.();
  }
}


function ignore(): void {}

const EMPTY = Buffer.alloc(0);
