/** Rows of the `jobs` table, to and from the shapes of job-types.ts. */
import { JOB_STATUS, type Job, type JobInfo, type JobQueryParam, type JobResult, type JobStatus, type NewJob } from './job-types.js';

/** Every column but the two bodies, and the result body's length. */
export const INFO_COLUMNS = `id, target, verb, noun, args, query, mime_type, timeout_ms, request_id, idempotency_key,
  status, attempts, created_at, updated_at, expires_at, next_attempt_at, hold, hold_reason, hold_expires_at,
  result_kind, result_status, result_return_code, result_mime_type, length(result_body) AS result_bytes`;

/** What a status change returns: the row without the request body, which lives in `job_bodies`. */
export const ROW_COLUMNS = `${INFO_COLUMNS}, result_body`;

/** Every column, the request body read from `job_bodies`. */
export const JOB_COLUMNS = `${ROW_COLUMNS}, (SELECT body FROM job_bodies WHERE job_bodies.id = jobs.id) AS body`;

export interface InfoRow {
  id: string;
  target: string;
  verb: string;
  noun: string;
  args: string;
  query: string;
  mime_type: string;
  timeout_ms: number;
  request_id: string;
  idempotency_key: string;
  status: JobStatus;
  attempts: number;
  created_at: number;
  updated_at: number;
  expires_at: number;
  next_attempt_at: number;
  hold: string | null;
  hold_reason: string | null;
  hold_expires_at: number | null;
  result_kind: number | null;
  result_status: number | null;
  result_return_code: number | null;
  result_mime_type: string | null;
  result_bytes: number | null;
}

export interface JobRow extends InfoRow {
  body: Buffer;
  result_body: Buffer | null;
}

/** A row as a status change returns it, before its body is read. */
export type BodilessRow = Omit<JobRow, 'body'>;

/** The named parameters of an INSERT into `jobs`. */
export interface InsertParams {
  id: string;
  target: string;
  verb: string;
  noun: string;
  args: string;
  query: string;
  mime_type: string;
  body: Buffer;
  timeout_ms: number;
  request_id: string;
  idempotency_key: string;
  now: number;
  expires_at: number;
  status: JobStatus;
  attempts: number;
  hold: string | null;
  hold_reason: string | null;
  hold_expires_at: number | null;
}

/** A guarded status change: `SET status = @to` where the row is in one of `from`. */
export function transitionSql(from: readonly JobStatus[], extraSet = ''): string {
  const allowed = from.map((s) => `'${s}'`).join(', ');
  const set = extraSet ? `, ${extraSet}` : '';
  return `UPDATE jobs SET status = @to, updated_at = @now${set} WHERE id = @id AND status IN (${allowed}) RETURNING ${ROW_COLUMNS}`;
}

/** A Uint8Array as a Buffer over the same bytes (better-sqlite3 binds Buffers as BLOBs). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function insertParams(id: string, job: NewJob, now: number): InsertParams {
  const query: JobQueryParam[] = (job.query ?? []).map((q) => ({ key: q.key, values: [...q.values] }));
  return {
    id,
    target: job.target,
    verb: job.verb,
    noun: JSON.stringify(job.noun),
    args: JSON.stringify(job.args ?? []),
    query: JSON.stringify(query),
    mime_type: job.mimeType ?? '',
    body: asBuffer(job.body ?? new Uint8Array(0)),
    timeout_ms: job.timeoutMs,
    request_id: job.requestId ?? '',
    idempotency_key: job.idempotencyKey ?? id,
    now,
    expires_at: now + job.ttlMs,
    status: JOB_STATUS.QUEUED,
    attempts: 0,
    hold: null,
    hold_reason: null,
    hold_expires_at: null,
  };
}

/** The named parameters that store a result. */
export function resultParams(result: JobResult): Record<string, number | string | Buffer> {
  return {
    result_kind: result.kind,
    result_status: result.status,
    result_return_code: result.returnCode,
    result_mime_type: result.mimeType,
    result_body: asBuffer(result.body),
  };
}

/** The result columns a job's and a hold's rows share. */
export interface ResultColumns {
  result_kind: number | null;
  result_status: number | null;
  result_return_code: number | null;
  result_mime_type: string | null;
  result_bytes: number | null;
}

/** A kept reply without its body, as `result` shows it; null before there is one. */
export function resultInfo(row: ResultColumns): JobInfo['result'] {
  if (row.result_status === null) return null;
  return {
    kind: row.result_kind ?? 0,
    status: row.result_status,
    returnCode: row.result_return_code ?? 0,
    mimeType: row.result_mime_type ?? '',
    bytes: row.result_bytes ?? 0,
  };
}

export function toJobInfo(row: InfoRow): JobInfo {
  return {
    id: row.id,
    target: row.target,
    verb: row.verb,
    noun: JSON.parse(row.noun) as string[],
    args: JSON.parse(row.args) as string[],
    query: JSON.parse(row.query) as JobQueryParam[],
    mimeType: row.mime_type,
    timeoutMs: row.timeout_ms,
    requestId: row.request_id,
    idempotencyKey: row.idempotency_key,
    status: row.status,
    attempts: row.attempts,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    nextAttemptAt: row.next_attempt_at,
    hold: row.hold,
    holdReason: row.hold_reason,
    holdExpiresAt: row.hold_expires_at,
    result: resultInfo(row),
  };
}

export function toJob(row: JobRow): Job {
  return { ...toJobInfo(row), body: row.body ?? Buffer.alloc(0), resultBody: row.result_body };
}

/** The job an insert made, from what was inserted: no row to read back. */
export function insertedJob(params: InsertParams, job: NewJob): Job {
  return {
    id: params.id,
    target: params.target,
    verb: params.verb,
    noun: [...job.noun],
    args: [...(job.args ?? [])],
    query: (job.query ?? []).map((q) => ({ key: q.key, values: [...q.values] })),
    mimeType: params.mime_type,
    timeoutMs: params.timeout_ms,
    requestId: params.request_id,
    idempotencyKey: params.idempotency_key,
    status: params.status,
    attempts: params.attempts,
    createdAt: params.now,
    updatedAt: params.now,
    expiresAt: params.expires_at,
    nextAttemptAt: params.now,
    hold: params.hold,
    holdReason: params.hold_reason,
    holdExpiresAt: params.hold_expires_at,
    result: null,
    body: params.body,
    resultBody: null,
  };
}
