import { FrameDecoder, FrameTooLargeError, type Frame } from '@restpipe/wire';
import type { Transport } from './transport.js';

const EMPTY_CHUNK = Buffer.alloc(0);

export interface FrameReaderHooks {
  /** Nothing more is read: the connection is closing. */
  readonly closing: boolean;
  /** `bytes`: the frame's encoded length, what it costs in memory. */
  onFrame(frame: Frame, bytes: number): void;
  /** Bytes that are no frame: the connection closes. */
  onProtocolError(error: Error): void;
  /** A declared length over the limit, refused before its body is read. */
  onTooLarge(error: FrameTooLargeError): void;
  /** At least one whole frame arrived: a sign of life. */
  onActivity(): void;
  /** Reading stopped (true) or started again (false). */
  onPaused(paused: boolean): void;
  /** Reading may start again only while this is false. */
  readonly full: boolean;
}

/**
 * Bytes in, frames out, and the socket's reading switched off while the node
 * holds all it may (TCP backpressure): frames already read wait in the decoder,
 * the rest in the peer's socket, and none is dropped.
 */
export class FrameReader {
  readonly #decoder: FrameDecoder;
  #stopped = false;
  #resumeScheduled = false;
  #framesInChunk = 0;

  constructor(
    private readonly transport: Pick<Transport, 'pause' | 'resume'>,
    maxFrameBytes: number,
    private readonly hooks: FrameReaderHooks,
  ) {
    this.#decoder = new FrameDecoder(maxFrameBytes);
  }

  onData(chunk: Buffer): void {
    if (this.hooks.closing) return; // nothing the peer sends can matter now: don't parse or buffer it
    if (this.#stopped) this.#decoder.hold(chunk); // read before the pause took effect
    else this.#decode(chunk);
  }

  /** Stops reading after the frame being handled. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.transport.pause();
    this.hooks.onPaused(true);
  }

  /** Starts reading again soon, if stopped and no longer full. */
  maybeResume(): void {
    if (!this.#stopped || this.#resumeScheduled || this.hooks.full) return;
    // Never from inside the decoder's loop (a handler may finish synchronously there).
    this.#resumeScheduled = true;
    setImmediate(this.#resume);
  }

  readonly #resume = (): void => {
    this.#resumeScheduled = false;
    if (this.hooks.closing || this.hooks.full) return;
    this.#stopped = false;
    this.hooks.onPaused(false);
    // Frames already read but not yet decoded go first; they may stop reading again.
    this.#decode(EMPTY_CHUNK);
    if (!this.#stopped) this.transport.resume();
  };

  #decode(chunk: Buffer): void {
    this.#framesInChunk = 0;
    try {
      this.#decoder.each(chunk, this.#onBody);
    } catch (error) {
      if (!(error instanceof FrameTooLargeError)) throw error;
      this.hooks.onTooLarge(error);
      return;
    }
    // Any bytes are a sign of life (a large frame may take longer than the heartbeat to
    // arrive); once per chunk is as good as once per frame.
    if (chunk.length > 0 || this.#framesInChunk > 0) this.hooks.onActivity();
  }

  /** One frame body; false stops the chunk and the decoder keeps the rest. */
  readonly #onBody = (body: Buffer): boolean => {
    if (this.hooks.closing) return false;
    this.#framesInChunk += 1;
    let frame: Frame;
    try {
      frame = this.#decoder.decode(body); // with its reader's memos, which last
    } catch (error) {
      this.hooks.onProtocolError(error as Error);
      return false;
    }
    try {
      this.hooks.onFrame(frame, body.length);
    } catch (error) {
      // A bug in handling one frame: report it as uncaught, as it would have been,
      // but without leaving the decoder halfway through the chunk.
      process.nextTick(() => {
        throw error;
      });
    }
    return !this.#stopped;
  };
}
