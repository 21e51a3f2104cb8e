/** The shapes of SPEC §8 jobs, as the store keeps them. Times are ms since the epoch. */

export const JOB_STATUS = {
  QUEUED: 'queued',
  RUNNING: 'running',
  ON_HOLD: 'on_hold',
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
  EXPIRED: 'expired',
  CANCELLED: 'cancelled',
} as const;

export type JobStatus = (typeof JOB_STATUS)[keyof typeof JOB_STATUS];

export const JOB_STATUSES: readonly JobStatus[] = Object.freeze(Object.values(JOB_STATUS));

/** Statuses that still owe an outcome: `--max-jobs` counts these. */
export const UNFINISHED_STATUSES: readonly JobStatus[] = Object.freeze([JOB_STATUS.QUEUED, JOB_STATUS.RUNNING, JOB_STATUS.ON_HOLD]);

export function isJobStatus(value: unknown): value is JobStatus {
  return typeof value === 'string' && (JOB_STATUSES as readonly string[]).includes(value);
}

/** One query parameter, as the event frame carries it. */
export interface JobQueryParam {
  readonly key: string;
  readonly values: readonly string[];
}

/** What a caller gives to queue a job. */
export interface NewJob {
  /** `'server'`, or `'client/NAME'`. */
  readonly target: string;
  readonly verb: string;
  readonly noun: readonly string[];
  readonly args?: readonly string[];
  readonly query?: readonly JobQueryParam[];
  readonly mimeType?: string;
  readonly body?: Uint8Array;
  /** The deadline of each delivery, in ms. */
  readonly timeoutMs: number;
  readonly requestId?: string;
  /** Carried by every delivery; defaults to the job id. Unique among this node's jobs. */
  readonly idempotencyKey?: string;
  /** Ms from now until the job expires (`X-Job-Ttl-Ms`). */
  readonly ttlMs: number;
}

/** The reply that ended a job, as the synchronous call would have given it. */
export interface JobResult {
  /** 0: value, 1: exception (the wire's ReplyKind). */
  readonly kind: number;
  readonly status: number;
  readonly returnCode: number;
  readonly mimeType: string;
  readonly body: Uint8Array;
}

/** A job without its bodies: what `GET /_rp/jobs` lists. */
export interface JobInfo {
  readonly id: string;
  readonly target: string;
  readonly verb: string;
  readonly noun: readonly string[];
  readonly args: readonly string[];
  readonly query: readonly JobQueryParam[];
  readonly mimeType: string;
  readonly timeoutMs: number;
  readonly requestId: string;
  readonly idempotencyKey: string;
  readonly status: JobStatus;
  readonly attempts: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly expiresAt: number;
  readonly nextAttemptAt: number;
  /** The hold id of SPEC §9, or null. */
  readonly hold: string | null;
  /** Why the far side holds it (SPEC §9), or null. */
  readonly holdReason: string | null;
  /** When that hold expires (ms), or null. */
  readonly holdExpiresAt: number | null;
  /** null until the job has a reply; `bytes` is its body's length. */
  readonly result: { readonly kind: number; readonly status: number; readonly returnCode: number; readonly mimeType: string; readonly bytes: number } | null;
}

/** A whole job: what delivery sends, and what `/result` answers. */
export interface Job extends JobInfo {
  /** The request body; empty in what a status change other than start() resolves with. */
  readonly body: Buffer;
  readonly resultBody: Buffer | null;
}

/** How an insert ended: queued, refused by `--max-jobs`, or a job with that key exists. */
export type InsertOutcome =
  | { readonly status: 'inserted'; readonly job: Job }
  | { readonly status: 'full'; readonly unfinished: number }
  | { readonly status: 'duplicate'; readonly job: Job };
