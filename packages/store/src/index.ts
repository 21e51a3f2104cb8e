/**
 * @restpipe/store: the node's embedded durable store (SPEC part two, §8): one SQLite file
 * in the data directory, in WAL mode with `synchronous=FULL`, owned by one process, with
 * versioned migrations, a group commit, and the jobs, idempotency records and approval
 * holds (§9) on top.
 * It depends on `@restpipe/errors` alone.
 */
export { Store, type StoreSettings, type StoreStats } from './store.js';
export type { CommitStats } from './group-commit.js';
export { DATABASE_FILE } from './open-database.js';
export { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from './migrations.js';
export {
  DEFAULT_BUSY_TIMEOUT_MS,
  DEFAULT_CHECKPOINT_WAL_BYTES,
  DEFAULT_IDEMPOTENCY_TTL_MS,
  type StoreOptions,
} from './options.js';
export { JobStore, type DiskCheck, type DueJob, type ListOptions } from './job-store.js';
export type { JobHoldRef, Withdrawal } from './job-holds.js';
export {
  JOB_STATUS,
  JOB_STATUSES,
  UNFINISHED_STATUSES,
  isJobStatus,
  type InsertOutcome,
  type Job,
  type JobInfo,
  type JobQueryParam,
  type JobResult,
  type JobStatus,
  type NewJob,
} from './job-types.js';
export { isJobId, newJobId } from './job-id.js';
export { IdempotencyStore, type BeginOutcome, type StoredReply } from './idempotency-store.js';
export { HoldStore, type HeldReply } from './hold-store.js';
export {
  HOLD_STATUS,
  HOLD_STATUSES,
  MAX_HOLD_REASON_CHARS,
  MAX_HOLD_TTL_MS,
  isHoldStatus,
  type Hold,
  type HoldEntry,
  type HoldInfo,
  type HoldListOptions,
  type HoldStatus,
  type NewHold,
} from './hold-types.js';
export { requestFingerprint, type FingerprintInput } from './fingerprint.js';
export { StoreError, StoreFullError } from '@restpipe/errors';
export { NonceJournal } from './nonce-journal.js';
