import { FrameWriter, type Frame } from '@restpipe/wire';

/** What the outbox needs of time: a clock and two ways to run something soon. */
export interface OutboxClock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** At the end of the current tick (process.nextTick). */
  endOfTick(run: () => void): void;
  /** After the current turn of the event loop (setImmediate). */
  nextTurn(run: () => void): void;
}

export const realClock: OutboxClock = {
  now: () => performance.now(),
  endOfTick: (run) => process.nextTick(run),
  nextTurn: (run) => setImmediate(run),
};

export interface OutboxSink {
  /** The encoded frames of one batch, in order. */
  write(chunks: Buffer[]): void;
  /** A frame this side could not encode: a bug of ours, never the peer's doing. */
  failed(error: Error): void;
}

/** An outbox that flushed more recently than this is busy: it batches per event-loop turn. */
export const BUSY_FLUSH_WINDOW_MS = 0.1;
/**
 * Within one burst, the first this many frames go out at once, then twice as many,
 * and so on: the peer starts on the head of a long burst while this side is still
 * producing its tail, and a burst of n frames costs about log2(n / 16) more writes.
 */
export const FIRST_PIECE_FRAMES = 16;

/**
 * Frames on their way out, batched. An idle outbox flushes at the end of the
 * current tick, for the lowest latency. A busy one (it flushed less than
 * BUSY_FLUSH_WINDOW_MS ago) flushes once per turn of the event loop instead: a
 * gateway reading 64 HTTP requests from 64 sockets in one poll phase then sends
 * them in a few TLS records, not 64. A long burst goes out in growing pieces
 * (FIRST_PIECE_FRAMES) so that the peer is never left waiting for its end: with
 * 64 requests in flight on one connection, that overlap of the two sides' work
 * gave about 1.4 times the requests per second.
 *
 * No I/O of its own: chunks go to the sink, time comes from the clock.
 */
export class Outbox {
  readonly #writer = new FrameWriter();
  #lastFlushAt = -Infinity;
  #flushScheduled = false;
  #pieceFrames = FIRST_PIECE_FRAMES;
  #unflushedBytes = 0;
  #closed = false;

  constructor(
    private readonly sink: OutboxSink,
    private readonly clock: OutboxClock = realClock,
  ) {}

  /** Body bytes of the events, replies and stream data appended since the last flush. */
  get unflushedBytes(): number {
    return this.#unflushedBytes;
  }

  append(frame: Frame): void {
    if (this.#closed) return;
    this.#writer.append(frame);
    if (frame.kind === 'event') this.#unflushedBytes += frame.event.data.length;
    else if (frame.kind === 'reply') this.#unflushedBytes += frame.reply.data.length;
    else if (frame.kind === 'streamData') this.#unflushedBytes += frame.streamData.data.length;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      if (this.clock.now() - this.#lastFlushAt < BUSY_FLUSH_WINDOW_MS) this.clock.nextTurn(this.#endOfBurst);
      else this.clock.endOfTick(this.#endOfBurst);
    } else if (this.#writer.queued >= this.#pieceFrames) {
      this.#pieceFrames *= 2;
      this.flush();
    }
  }

  /** Writes what is queued now. */
  flush(): void {
    if (this.#writer.queued === 0 || this.#closed) return;
    this.#lastFlushAt = this.clock.now();
    let chunks: Buffer[];
    try {
      chunks = this.#writer.take();
    } catch (error) {
      this.#closed = true;
      this.sink.failed(error as Error);
      return;
    }
    this.#unflushedBytes = 0;
    this.sink.write(chunks);
  }

  /** Nothing more is written, whatever is appended. */
  close(): void {
    this.#closed = true;
  }

  readonly #endOfBurst = (): void => {
    this.#flushScheduled = false;
    this.#pieceFrames = FIRST_PIECE_FRAMES;
    this.flush();
  };
}
