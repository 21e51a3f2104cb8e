import { HEARTBEAT_MISSES } from './options.js';

/** What the watch reads of a transport. */
export interface WriteProgress {
  /** Bytes written and not yet taken by the kernel. */
  readonly pendingWriteBytes: number;
  /** Bytes taken so far: grows while the peer reads. */
  readonly bytesFlushed: number;
}

/**
 * Finds a slow consumer: a peer that reads nothing for HEARTBEAT_MISSES ticks
 * (heartbeat intervals) in a row while data waits for it. A peer that reads,
 * however slowly, is never one. Pure: the owner calls tick() once an interval.
 */
export class StallWatch {
  #lastFlushed = -1;
  #stalledTicks = 0;

  constructor(
    private readonly progress: WriteProgress,
    private readonly ticksAllowed = HEARTBEAT_MISSES,
  ) {}

  /** Ticks in a row with data waiting and none of it taken. */
  get stalledTicks(): number {
    return this.#stalledTicks;
  }

  /** True once the peer has been stalled for `ticksAllowed` ticks. */
  tick(): boolean {
    const flushed = this.progress.bytesFlushed;
    if (this.progress.pendingWriteBytes === 0 || flushed !== this.#lastFlushed) {
      this.#lastFlushed = flushed;
      this.#stalledTicks = 0;
      return false;
    }
    this.#stalledTicks += 1;
    return this.#stalledTicks >= this.ticksAllowed;
  }
}
