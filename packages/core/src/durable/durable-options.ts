/**
 * The options of SPEC part two's data directory: where the node keeps its jobs and its
 * idempotency records, and their bounds. The library keeps nothing unless given a
 * `dataDir`; the CLIs default to `data/client-NAME` and `data/server-NODE_ID`.
 */
import { ConfigError } from '@restpipe/wire';
import { wholeNumber } from '../options.js';

export const DEFAULT_JOB_TTL_MS = 86_400_000;
export const DEFAULT_MAX_JOBS = 100_000;
export const DEFAULT_IDEMPOTENCY_TTL_MS = 86_400_000;

export interface DurableOptions {
  /**
   * The data directory (created 0700): jobs, and the idempotency records of events from
   * peers. `undefined` or `'off'`: none, and enqueue() and idempotency keys answer
   * NotEnabledError. Only one process may use a directory at a time. @default off
   */
  dataDir?: string | undefined;
  /** How long a job is delivered and retried before it expires, unless it says. @default 86400000 */
  jobTtlMs?: number | undefined;
  /** Unfinished jobs (queued, running, on hold) past which enqueue() is JobQueueFullError. @default 100000 */
  maxJobs?: number | undefined;
  /** How long the reply of an idempotency key is kept for a repeat. @default 86400000 */
  idempotencyTtlMs?: number | undefined;
}

export interface ResolvedDurableOptions {
  /** undefined: off. */
  readonly dataDir: string | undefined;
  readonly jobTtlMs: number;
  readonly maxJobs: number;
  readonly idempotencyTtlMs: number;
}

export function resolveDurableOptions(options: DurableOptions): ResolvedDurableOptions {
  const dir = options.dataDir;
  if (dir !== undefined && (typeof dir !== 'string' || dir === '')) throw new ConfigError('dataDir must be a directory path or "off"');
  const resolved = Object.freeze({
    dataDir: dir === 'off' ? undefined : dir,
    jobTtlMs: wholeNumber('jobTtlMs', options.jobTtlMs ?? DEFAULT_JOB_TTL_MS, 1),
    maxJobs: wholeNumber('maxJobs', options.maxJobs ?? DEFAULT_MAX_JOBS, 1),
    idempotencyTtlMs: wholeNumber('idempotencyTtlMs', options.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS, 1),
  });
  // A job still delivered after its key is forgotten could run twice.
  if (resolved.dataDir !== undefined && resolved.jobTtlMs > resolved.idempotencyTtlMs) {
    throw new ConfigError(`jobTtlMs (${resolved.jobTtlMs}) must not exceed idempotencyTtlMs (${resolved.idempotencyTtlMs}): a job delivered after its key is forgotten could run twice`);
  }
  return resolved;
}
