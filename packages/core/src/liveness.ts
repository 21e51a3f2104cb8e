import { HeartbeatTimeoutError, SlowConsumerError } from '@restpipe/wire';
import { Heartbeat } from './heartbeat.js';
import { StallWatch, type WriteProgress } from './stall-watch.js';
import { CloseReason } from './state.js';

export interface LivenessHooks {
  sendPing(seq: number): void;
  /** The peer is gone (silent) or stuck (reads nothing): close with this error and reason. */
  dead(error: Error, reason: CloseReason): void;
  rtt(ms: number): void;
}

/**
 * Is the peer still there, and still reading? The heartbeat finds a peer silent
 * for 3 intervals; the stall watch, on the same ticks, a slow consumer: one that
 * reads nothing for 3 intervals while data waits for it. A busy peer that reads
 * slowly is neither: what waits for it is bounded by `maxPendingWriteBytes`
 * (requests beyond wait in OutboundRequests) and by the replies of the handlers
 * running for it.
 */
export class Liveness {
  readonly #heartbeat: Heartbeat;
  readonly #stall: StallWatch;

  constructor(ownIntervalMs: number, peerIntervalMs: number, progress: WriteProgress, hooks: LivenessHooks) {
    this.#stall = new StallWatch(progress);
    this.#heartbeat = new Heartbeat(ownIntervalMs, Heartbeat.deadline(ownIntervalMs, peerIntervalMs), {
      sendPing: hooks.sendPing,
      onRtt: hooks.rtt,
      onDead: (silentMs) => hooks.dead(new HeartbeatTimeoutError(`peer silent for ${Math.round(silentMs)} ms`), CloseReason.HEARTBEAT_TIMEOUT),
      onTick: () => {
        if (!this.#stall.tick()) return;
        const stalledMs = this.#stall.stalledTicks * ownIntervalMs;
        const error = new SlowConsumerError(`peer read nothing of ${progress.pendingWriteBytes} bytes for ${stalledMs} ms`);
        hooks.dead(error, CloseReason.SLOW_CONSUMER);
      },
    });
    this.#heartbeat.start();
  }

  get rttMs(): number | undefined {
    return this.#heartbeat.rttMs;
  }

  /** While this side reads nothing by its own choice, the peer's silence proves nothing. */
  set deaf(value: boolean) {
    this.#heartbeat.deaf = value;
  }

  noteActivity(): void {
    this.#heartbeat.noteActivity();
  }

  onPong(seq: number): void {
    this.#heartbeat.onPong(seq);
  }

  stop(): void {
    this.#heartbeat.stop();
  }
}
