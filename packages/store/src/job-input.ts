/**
 * Checks of what a caller asks the store to keep. The gateway validates requests first;
 * these hold the store's own invariants, so a bad row never reaches the file.
 */
import { InvalidArgumentError } from '@restpipe/errors';
import { MAX_HOLD_REASON_CHARS } from './hold-types.js';
import type { JobResult, NewJob } from './job-types.js';

const MAX_MS = 2_147_483_647;
const TARGET = /^(?:server|client\/.+)$/;

function isStringArray(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function wholeMs(name: string, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_MS) {
    throw new InvalidArgumentError(`job ${name} must be a whole number of ms from ${min} to ${MAX_MS}, not ${String(value)}`);
  }
}

function checkQuery(query: NewJob['query']): void {
  if (query === undefined) return;
  const ok = Array.isArray(query) && query.every((q) => typeof q?.key === 'string' && isStringArray(q.values));
  if (!ok) throw new InvalidArgumentError('job query must be an array of {key, values} with string values');
}

function checkOptionalString(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'string') throw new InvalidArgumentError(`job ${name} must be a string`);
}

/** Throws InvalidArgumentError naming the first bad field of `job`. */
export function checkNewJob(job: NewJob): void {
  if (typeof job.target !== 'string' || !TARGET.test(job.target)) {
    throw new InvalidArgumentError(`job target must be 'server' or 'client/NAME', not ${JSON.stringify(job.target)}`);
  }
  if (typeof job.verb !== 'string' || job.verb === '') throw new InvalidArgumentError('job verb must be a non-empty string');
  if (!isStringArray(job.noun) || job.noun.length === 0) throw new InvalidArgumentError('job noun must be a non-empty array of strings');
  if (job.args !== undefined && !isStringArray(job.args)) throw new InvalidArgumentError('job args must be an array of strings');
  checkQuery(job.query);
  if (job.body !== undefined && !(job.body instanceof Uint8Array)) throw new InvalidArgumentError('job body must be a Uint8Array');
  checkOptionalString('mimeType', job.mimeType);
  checkOptionalString('requestId', job.requestId);
  checkOptionalString('idempotencyKey', job.idempotencyKey);
  if (job.idempotencyKey === '') throw new InvalidArgumentError('job idempotencyKey must not be empty');
  wholeMs('timeoutMs', job.timeoutMs, 0);
  wholeMs('ttlMs', job.ttlMs, 1);
}

/** Throws InvalidArgumentError unless `result` is a reply the store can keep. */
export function checkResult(result: JobResult): void {
  const ints = [result.kind, result.status, result.returnCode];
  if (!ints.every((n) => Number.isInteger(n) && n >= 0)) throw new InvalidArgumentError('job result kind, status and returnCode must be whole numbers');
  if (typeof result.mimeType !== 'string') throw new InvalidArgumentError('job result mimeType must be a string');
  if (!(result.body instanceof Uint8Array)) throw new InvalidArgumentError('job result body must be a Uint8Array');
}

/** Throws InvalidArgumentError unless `limit` is a whole number of rows, 0 or more. */
export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new InvalidArgumentError(`limit must be a whole number from 0, not ${String(limit)}`);
}

/** Throws InvalidArgumentError unless a job can be put under this hold (SPEC §9). */
export function checkJobHold(holdId: unknown, reason: unknown, expiresAt: unknown): void {
  if (typeof holdId !== 'string' || holdId === '') throw new InvalidArgumentError('job hold id must be a non-empty string');
  if (typeof reason !== 'string' || reason.length > MAX_HOLD_REASON_CHARS) {
    throw new InvalidArgumentError(`job hold reason must be a string of at most ${MAX_HOLD_REASON_CHARS} characters`);
  }
  if (typeof expiresAt !== 'number' || !Number.isSafeInteger(expiresAt)) {
    throw new InvalidArgumentError(`job hold expiry must be a whole number of ms, not ${String(expiresAt)}`);
  }
}
