import { HEARTBEAT_MISSES } from './options.js';

export interface HeartbeatHooks {
  sendPing(seq: number): void;
  /** The peer was silent for HEARTBEAT_MISSES intervals. */
  onDead(silentMs: number): void;
  onRtt(rttMs: number): void;
}

/**
 * Sends a Ping every interval and watches for silence. Any frame from the peer
 * counts as a sign of life, so a busy connection never needs its Pongs on time.
 */
export class Heartbeat {
  #timer: NodeJS.Timeout | undefined;
  #lastSeen = performance.now();
  #seq = 0;
  #pingSentAt = new Map<number, number>();
  #rttMs: number | undefined;

  constructor(
    private readonly intervalMs: number,
    /** Silence allowed before the peer is dead; based on both sides' intervals. */
    private readonly deadAfterMs: number,
    private readonly hooks: HeartbeatHooks,
  ) {}

  static deadline(ownIntervalMs: number, peerIntervalMs: number): number {
    return HEARTBEAT_MISSES * Math.max(ownIntervalMs, peerIntervalMs || ownIntervalMs);
  }

  get rttMs(): number | undefined {
    return this.#rttMs;
  }

  start(): void {
    this.#lastSeen = performance.now();
    this.#timer = setInterval(() => this.#tick(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#pingSentAt.clear();
  }

  noteActivity(): void {
    this.#lastSeen = performance.now();
  }

  onPong(seq: number): void {
    const sentAt = this.#pingSentAt.get(seq);
    if (sentAt === undefined) return;
    this.#pingSentAt.delete(seq);
    this.#rttMs = performance.now() - sentAt;
    this.hooks.onRtt(this.#rttMs);
  }

  #tick(): void {
    const silentMs = performance.now() - this.#lastSeen;
    if (silentMs >= this.deadAfterMs) {
      this.stop();
      this.hooks.onDead(silentMs);
      return;
    }
    this.#seq = (this.#seq + 1) >>> 0;
    // Only the latest few pings can still be answered usefully.
    if (this.#pingSentAt.size > HEARTBEAT_MISSES) this.#pingSentAt.clear();
    this.#pingSentAt.set(this.#seq, performance.now());
    this.hooks.sendPing(this.#seq);
  }
}
