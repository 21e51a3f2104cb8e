/**
 * @restpipe/store: the node's embedded durable store (SPEC part two, §8): one SQLite file
 * in the data directory, in WAL mode with `synchronous=FULL`, owned by one process, with
 * versioned migrations, a group commit, and the jobs and idempotency records on top.
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
export { JobStore, type DueJob, type ListOptions } from './job-store.js';
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
export { requestFingerprint, type FingerprintInput } from './fingerprint.js';
export { StoreError, StoreFullError } from '@restpipe/errors';
