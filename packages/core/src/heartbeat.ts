import { HEARTBEAT_MISSES, MAX_PEER_HEARTBEAT_MS } from './options.js';

/** Pongs are timed for this many of the latest Pings; older ones cannot matter. */
const PINGS_TIMED = HEARTBEAT_MISSES + 1;

export interface HeartbeatHooks {
  sendPing(seq: number): void;
  /** The peer was silent for HEARTBEAT_MISSES intervals. */
  onDead(silentMs: number): void;
  onRtt(rttMs: number): void;
  /** Every interval, before the silence check. */
  onTick?(): void;
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
  /** While this side reads nothing (by its own choice), the peer's silence proves nothing. */
  #deaf = false;

  constructor(
    private readonly intervalMs: number,
    /** Silence allowed before the peer is dead; based on both sides' intervals. */
    private readonly deadAfterMs: number,
    private readonly hooks: HeartbeatHooks,
  ) {}

  /** Silence allowed: HEARTBEAT_MISSES of the longer interval, the peer's clamped to MAX_PEER_HEARTBEAT_MS. */
  static deadline(ownIntervalMs: number, peerIntervalMs: number): number {
    const peer = Math.min(peerIntervalMs || ownIntervalMs, MAX_PEER_HEARTBEAT_MS);
    return HEARTBEAT_MISSES * Math.max(ownIntervalMs, peer);
  }

  /** This side stopped (true) or started again (false) reading the peer. */
  set deaf(value: boolean) {
    this.#deaf = value;
    this.#lastSeen = performance.now();
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
    this.hooks.onTick?.();
    if (this.#timer === undefined) return; // onTick closed the connection
    if (this.#deaf) this.#lastSeen = performance.now();
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
