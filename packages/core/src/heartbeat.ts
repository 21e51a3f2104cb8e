import { HEARTBEAT_MISSES } from './options.js';

/** Pongs are timed for this many of the latest Pings; older ones cannot matter. */
const PINGS_TIMED = HEARTBEAT_MISSES + 1;

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
  /**
   * When each of the last PINGS_TIMED Pings went out (slot seq % PINGS_TIMED; -1 once
   * answered): on a link slower than the interval, a Pong arrives after the next Ping.
   */
  readonly #pingSentAt: number[] = new Array<number>(PINGS_TIMED).fill(-1);
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
    this.#pingSentAt.fill(-1);
  }

  noteActivity(): void {
    this.#lastSeen = performance.now();
  }

  onPong(seq: number): void {
    const age = (this.#seq - seq) >>> 0;
    const slot = seq % PINGS_TIMED;
    const sentAt = this.#pingSentAt[slot]!;
    if (age >= PINGS_TIMED || sentAt < 0) return;
    this.#pingSentAt[slot] = -1;
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
    this.#pingSentAt[this.#seq % PINGS_TIMED] = performance.now();
    this.hooks.sendPing(this.#seq);
  }
}
