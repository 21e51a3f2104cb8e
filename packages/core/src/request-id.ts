import { randomBytes } from 'node:crypto';

/** Random per process, so ids from different processes do not collide. */
const PREFIX = `${randomBytes(6).toString('hex')}-`;
let counter = 0;

/**
 * A request id for a library call that brought none: `<12 hex>-<counter in base 36>`.
 * Unique per process and cheap; a UUID costs more than the rest of a small
 * request's encoding. (Gateways make UUIDs for X-Request-Id themselves.)
 */
export function nextRequestId(): string {
  counter = counter >= Number.MAX_SAFE_INTEGER ? 1 : counter + 1;
  return PREFIX + counter.toString(36);
}
