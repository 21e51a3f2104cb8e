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

/** Longest request id this node logs, hands to handlers and passes on. */
export const MAX_REQUEST_ID_LENGTH = 128;
/**
 * A request id: 1 to 128 printable ASCII characters (space to `~`). The one rule
 * for every id that comes from outside: a peer's Event.request_id, a gateway's
 * X-Request-Id header, a library caller's `requestId` (wire-values.ts). Safe in
 * a log line and in a response header, and never a log line of megabytes.
 */
export const REQUEST_ID_PATTERN = /^[\x20-\x7e]{1,128}$/;

/**
 * `raw` when it is a request id by the rule above, else a fresh one from `make`.
 * An id that breaks the rule is replaced whole, not cut to fit: a cut id would
 * look like the caller's while being another, and an id with control bytes
 * cannot be made safe by cutting. The length is checked first, so a 4 MiB id
 * costs nothing.
 */
export function saneRequestId(raw: unknown, make: () => string = nextRequestId): string {
  return isRequestId(raw) ? raw : make();
}

/** REQUEST_ID_PATTERN, by hand: a regular expression costs more than the rest of a small request's checks. */
export function isRequestId(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const n = value.length;
  if (n < 1 || n > MAX_REQUEST_ID_LENGTH) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** A peer's Event.request_id, as this side logs it and hands it to the handler. */
export function peerRequestId(raw: string): string {
  return saneRequestId(raw);
}
