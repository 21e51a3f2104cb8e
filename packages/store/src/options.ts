import { ConfigError } from '@restpipe/errors';

/** How long a second opener waits for the data directory's lock before giving up. */
export const DEFAULT_BUSY_TIMEOUT_MS = 100;
/** How long a finished idempotency key is kept (SPEC §8 `--idempotency-ttl-ms`). */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 86_400_000;
/** WAL size past which the store copies it back into the database and truncates it. */
export const DEFAULT_CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024;
/** Ms timers and TTLs accept at most: what a Node timer can wait. */
const MAX_MS = 2_147_483_647;

export interface StoreOptions {
  /**
   * Ms a second process opening the same directory waits for the lock before it fails.
   * @default 100
   */
  readonly busyTimeoutMs?: number;
  /**
   * Ms an idempotency key is kept after its first request.
   * @default 86400000
   */
  readonly idempotencyTtlMs?: number;
  /**
   * WAL bytes past which the store checkpoints (outside any commit, never delaying one).
   * @default 4194304
   */
  readonly checkpointWalBytes?: number;
  /**
   * Run `PRAGMA quick_check` at open, so that a damaged file fails at start rather than mid-run.
   * @default true
   */
  readonly integrityCheck?: boolean;
  /**
   * The most bytes the database file may grow to; past it a write fails with StoreFullError
   * as on a full disk, before the disk itself is full. 0: only the disk limits it.
   * @default 0
   */
  readonly maxBytes?: number;
  /**
   * Free bytes kept on the disk for the jobs already accepted: a new job that would leave
   * less is refused with StoreFullError (507); status changes still have room. 0: no reserve.
   * @default 5% of the filesystem, from 256 KiB to 64 MiB
   */
  readonly reserveBytes?: number | undefined;
  /** The clock, in ms since the epoch. @default Date.now */
  readonly clock?: () => number;
  /** Told of trouble that failed no write (a checkpoint that could not run, say). @default ignore */
  readonly onWarning?: (error: unknown) => void;
}

export type ResolvedStoreOptions = Readonly<Required<Omit<StoreOptions, 'reserveBytes'>>> & { readonly reserveBytes: number | undefined };

function wholeMs(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > MAX_MS) {
    throw new ConfigError(`store option ${name} must be a whole number from ${min} to ${MAX_MS}, not ${String(value)}`);
  }
  return value;
}

function wholeBytes(name: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (!Number.isSafeInteger(value) || value < 0) throw new ConfigError(`store option ${name} must be a whole number of bytes, not ${String(value)}`);
  return value;
}

/** The options with defaults filled in; a bad field throws ConfigError naming it. */
export function resolveStoreOptions(options: StoreOptions = {}): ResolvedStoreOptions {
  if (options.clock !== undefined && typeof options.clock !== 'function') throw new ConfigError('store option clock must be a function');
  if (options.onWarning !== undefined && typeof options.onWarning !== 'function') throw new ConfigError('store option onWarning must be a function');
  return Object.freeze({
    busyTimeoutMs: wholeMs('busyTimeoutMs', options.busyTimeoutMs, DEFAULT_BUSY_TIMEOUT_MS, 0),
    idempotencyTtlMs: wholeMs('idempotencyTtlMs', options.idempotencyTtlMs, DEFAULT_IDEMPOTENCY_TTL_MS, 1),
    checkpointWalBytes: wholeMs('checkpointWalBytes', options.checkpointWalBytes, DEFAULT_CHECKPOINT_WAL_BYTES, 0),
    integrityCheck: options.integrityCheck ?? true,
    maxBytes: wholeBytes('maxBytes', options.maxBytes),
    reserveBytes: options.reserveBytes === undefined ? undefined : wholeBytes('reserveBytes', options.reserveBytes),
    clock: options.clock ?? Date.now,
    onWarning: options.onWarning ?? (() => {}),
  });
}
