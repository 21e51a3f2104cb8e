/**
 * Checks of what a caller asks the hold store to keep, as job-input.ts does for jobs: the
 * core validates first, these hold the store's own invariants, so that a bad value rejects
 * with InvalidArgumentError before anything is written.
 */
import { InvalidArgumentError } from '@restpipe/errors';
import { MAX_HOLD_REASON_CHARS, MAX_HOLD_TTL_MS, isHoldStatus, type NewHold } from './hold-types.js';

const MAX_MS = 2_147_483_647;
const DIGEST = /^[0-9a-f]{64}$/;

function isStringArray(value: unknown): value is readonly string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function nonEmpty(name: string, value: unknown): void {
  if (typeof value !== 'string' || value === '') throw new InvalidArgumentError(`hold ${name} must be a non-empty string`);
}

function text(name: string, value: unknown): void {
  if (typeof value !== 'string') throw new InvalidArgumentError(`hold ${name} must be a string`);
}

function wholeNumber(name: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`hold ${name} must be a whole number from ${min} to ${max}, not ${String(value)}`);
  }
}

function checkRequest(hold: NewHold): void {
  nonEmpty('verb', hold.verb);
  if (!isStringArray(hold.noun) || hold.noun.length === 0) throw new InvalidArgumentError('hold noun must be a non-empty array of strings');
  if (!isStringArray(hold.args)) throw new InvalidArgumentError('hold args must be an array of strings');
  const query = hold.query as unknown;
  const queryOk = Array.isArray(query) && query.every((q: { key?: unknown; values?: unknown } | null) => typeof q?.key === 'string' && isStringArray(q.values));
  if (!queryOk) throw new InvalidArgumentError('hold query must be an array of {key, values} with string values');
  text('mimeType', hold.mimeType);
  if (!(hold.body instanceof Uint8Array)) throw new InvalidArgumentError('hold body must be a Uint8Array');
  text('requestId', hold.requestId);
  wholeNumber('timeoutMs', hold.timeoutMs, 0, MAX_MS);
  if (hold.idempotencyKey !== undefined) nonEmpty('idempotencyKey', hold.idempotencyKey);
}

/** Throws InvalidArgumentError naming the first bad field of `hold`. */
export function checkNewHold(hold: NewHold): void {
  if (typeof hold !== 'object' || hold === null) throw new InvalidArgumentError('a hold must be an object');
  nonEmpty('peer', hold.peer);
  checkRequest(hold);
  wholeNumber('attempt', hold.attempt, 1, Number.MAX_SAFE_INTEGER);
  if (typeof hold.digest !== 'string' || !DIGEST.test(hold.digest)) throw new InvalidArgumentError('hold digest must be a hex sha256 (64 lowercase hex digits)');
  checkReason('reason', hold.reason);
  wholeNumber('ttlMs', hold.ttlMs, 1, MAX_HOLD_TTL_MS);
}

/** Throws unless `value` is a string of at most MAX_HOLD_REASON_CHARS characters. */
export function checkReason(name: string, value: unknown): void {
  if (typeof value !== 'string' || value.length > MAX_HOLD_REASON_CHARS) {
    throw new InvalidArgumentError(`hold ${name} must be a string of at most ${MAX_HOLD_REASON_CHARS} characters`);
  }
}

/** Throws unless `by` names who decided and `reason` is null or a reason. */
export function checkDecision(by: unknown, reason: unknown): void {
  nonEmpty('decidedBy', by);
  if (reason !== null) checkReason('decision reason', reason);
}

/** Throws unless `value` is a time in ms. */
export function checkTime(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new InvalidArgumentError(`${name} must be a whole number of ms, not ${String(value)}`);
}

/** Throws unless `value` is absent or a hold status. */
export function checkHoldStatus(value: unknown): void {
  if (value !== undefined && !isHoldStatus(value)) throw new InvalidArgumentError(`hold status must be pending, approved, denied or expired, not ${String(value)}`);
}
