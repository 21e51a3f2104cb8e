/**
 * Idempotency keys (SPEC §8): what a caller may name a request by, so that the receiving
 * node runs it at most once. As the IETF draft's `Idempotency-Key` header, a key is a
 * printable ASCII string; restpipe bounds it to 255 characters.
 */
import { InvalidArgumentError } from '@restpipe/wire';

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
const KEY = /^[\x20-\x7e]{1,255}$/;
const MAX_ATTEMPT = 0xffff_ffff;

export function isIdempotencyKey(value: unknown): value is string {
  return typeof value === 'string' && KEY.test(value);
}

/** `undefined` or `''`: no key. Otherwise a key, or InvalidArgumentError. */
export function checkIdempotencyKey(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (!isIdempotencyKey(value)) {
    throw new InvalidArgumentError(`idempotencyKey must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters`);
  }
  return value;
}

/** A delivery's number: 1 for the first; absent means 1. */
export function checkAttempt(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_ATTEMPT) {
    throw new InvalidArgumentError(`attempt must be a whole number from 1 to ${MAX_ATTEMPT}, got ${String(value)}`);
  }
  return value;
}
