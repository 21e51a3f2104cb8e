import { performance } from 'node:perf_hooks';
import { ConfigError, NonceStoreFullError } from '@restpipe/errors';
import { NONCE_TTL_MS } from './params.js';

/**
 * Room for about 400 signed requests a second, each nonce kept NONCE_TTL_MS (660 s).
 * An entry is a short string in a Map: the whole store stays within some tens of MiB.
 */
export const DEFAULT_MAX_NONCES = 262_144;

export interface NonceStoreOptions {
  /** Nonces remembered at once; past it, new ones are refused (NonceStoreFullError). @default DEFAULT_MAX_NONCES */
  readonly maxEntries?: number | undefined;
  /** How long a nonce is remembered from when it was stored. @default NONCE_TTL_MS */
  readonly ttlMs?: number | undefined;
  /** A monotonic clock in ms. @default performance.now */
  readonly now?: (() => number) | undefined;
}

/**
 * The nonces of signed requests seen in the last 660 s, in memory (per node).
 *
 * A Map keeps insertion order, and every entry lives the same time on a monotonic
 * clock, so the oldest entries are always at the front: expired ones are dropped
 * from there, a few at a time, as new ones come. At the bound the store refuses
 * rather than forget a nonce that is still live: forgetting one would let its
 * request be replayed, refusing only delays honest callers (503, `Retry-After`).
 */
export class NonceStore {
  readonly maxEntries: number;
  readonly ttlMs: number;
  readonly #now: () => number;
  /** Nonce key -> when it may be forgotten. */
  readonly #entries = new Map<string, number>();

  constructor(options: NonceStoreOptions = {}) {
    this.maxEntries = positive('maxEntries', options.maxEntries ?? DEFAULT_MAX_NONCES);
    this.ttlMs = positive('ttlMs', options.ttlMs ?? NONCE_TTL_MS);
    this.#now = options.now ?? (() => performance.now());
  }

  /** Live nonces remembered now. */
  get size(): number {
    this.#expire(this.#now());
    return this.#entries.size;
  }

  /** Whether `key` was stored within the last ttlMs. */
  has(key: string): boolean {
    const until = this.#entries.get(key);
    return until !== undefined && until > this.#now();
  }

  /**
   * Stores `key` unless it is live already: check and insert in one step, so of two
   * requests with one nonce exactly one gets `true`. Throws NonceStoreFullError
   * when maxEntries live nonces are stored.
   */
  add(key: string): boolean {
    const now = this.#now();
    this.#expire(now);
    if (this.#entries.has(key)) return false;
    if (this.#entries.size >= this.maxEntries) {
      throw new NonceStoreFullError(`this gateway remembers ${this.maxEntries} nonces, its bound: try again when older ones age out`);
    }
    this.#entries.set(key, now + this.ttlMs);
    return true;
  }

  #expire(now: number): void {
    for (const [key, until] of this.#entries) {
      if (until > now) return;
      this.#entries.delete(key);
    }
  }
}

function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new ConfigError(`NonceStore ${name} must be a whole number from 1, got ${value}`);
  return value;
}
