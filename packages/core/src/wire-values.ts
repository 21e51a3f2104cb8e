/**
 * Values a caller hands over that end up in a frame: a reply's return code and
 * media type, a request's deadline, request id, args and query. The hand-written
 * codec trusts them (it measures a frame before it writes it), so each is checked
 * here, where it enters: a bad one fails its own request or reply with
 * InvalidArgumentError (500), never the connection. `null`, like `undefined`,
 * means a value is absent.
 */
import { InvalidArgumentError, type EventFrame, type QueryParam } from '@restpipe/wire';
import type { QueryValues } from './api-types.js';
import { FRAME_OVERHEAD_BYTES, MAX_MS } from './limits.js';
import { isRequestId } from './request-id.js';

/** Return codes are `uint32` on the wire (`Reply.return_code`). */
export const MAX_RETURN_CODE = 0xffff_ffff;
/** Longest media type: far more than any real one, and always a valid header. */
export const MAX_MIME_TYPE_LENGTH = 1024;
/**
 * An event's fields besides its body (noun, args, query, media type, request id),
 * encoded, must fit in half the room a receiver allows on top of the body.
 */
export const MAX_EVENT_FIELDS_BYTES = FRAME_OVERHEAD_BYTES / 2;
/** What an HTTP header value may hold (what Node lets a Content-Type be). */
const HEADER_TEXT = /^[\t\x20-\x7e\x80-\xff]*$/;

const show = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value) : String(value));

/** A return code: a whole number from 0 to 2^32-1. */
export function isReturnCode(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_RETURN_CODE;
}

export function checkReturnCode(value: unknown): number {
  if (!isReturnCode(value)) {
    throw new InvalidArgumentError(`return code must be a whole number from 0 to ${MAX_RETURN_CODE}, got ${show(value)}`);
  }
  return value;
}

/** A media type that can go out as a Content-Type header; `undefined` stays absent. */
export function checkMimeType(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isMimeType(value)) {
    throw new InvalidArgumentError(`mimeType must be a string of at most ${MAX_MIME_TYPE_LENGTH} header characters, got ${show(value)}`);
  }
  return value;
}

/** The last media type found good: they repeat from request to request. */
let goodMimeType = '';

export function isMimeType(value: unknown): value is string {
  if (value === goodMimeType) return true;
  if (typeof value !== 'string' || value.length > MAX_MIME_TYPE_LENGTH || !HEADER_TEXT.test(value)) return false;
  goodMimeType = value;
  return true;
}

/** The options of `reply(data, {mimeType, code})`, checked; a missing code is 0. */
export function checkReplyOptions(options: unknown): { mimeType: string | undefined; code: number } {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('reply options must be an object');
  const { mimeType, code } = options as { mimeType?: unknown; code?: unknown };
  return { mimeType: checkMimeType(mimeType), code: code === undefined ? 0 : checkReturnCode(code) };
}

/** A reply body the peer takes: at most its max-event-bytes (`limit`; none: unchecked). */
export function checkReplyBytes(bytes: number, limit: number | undefined): void {
  if (limit !== undefined && bytes > limit) {
    throw new InvalidArgumentError(`reply body of ${bytes} bytes exceeds the peer's limit of ${limit}`);
  }
}

/** A deadline: whole milliseconds from 1 to 2^31-1. */
export function checkTimeoutMs(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_MS) {
    throw new InvalidArgumentError(`timeoutMs must be a whole number of ms from 1 to ${MAX_MS}, got ${show(value)}`);
  }
  return value;
}

export function checkRequestId(value: unknown): string {
  if (typeof value !== 'string' || !isRequestId(value)) {
    throw new InvalidArgumentError(`requestId must be 1 to 128 printable ASCII characters, got ${show(value)}`);
  }
  return value;
}

/** Positional args: an array of strings. */
export function checkArgs(value: unknown): readonly string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || !allStrings(value)) {
    throw new InvalidArgumentError('args must be an array of strings');
  }
  return value as readonly string[];
}

/** A query (an object whose values are strings or arrays of strings) as the params of an Event. */
export function checkedQueryParams(value: unknown): QueryParam[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError('query must be an object of strings or arrays of strings');
  }
  const params: QueryParam[] = [];
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const values = (value as QueryValues)[key];
    if (typeof values === 'string') params.push({ key, values: [values] });
    else if (Array.isArray(values) && allStrings(values)) params.push({ key, values });
    else throw new InvalidArgumentError(`query value ${JSON.stringify(key)} must be a string or an array of strings`);
  }
  return params;
}

function allStrings(values: readonly unknown[]): boolean {
  for (let i = 0; i < values.length; i++) if (typeof values[i] !== 'string') return false;
  return true;
}

/** `signal` an AbortSignal and `onCancellable` a function, when given: checked before anything is sent. */
export function checkCancellation(request: { signal?: unknown; onCancellable?: unknown }): void {
  if (request.signal != null && !(request.signal instanceof AbortSignal)) throw new InvalidArgumentError('signal must be an AbortSignal');
  if (request.onCancellable != null && typeof request.onCancellable !== 'function') throw new InvalidArgumentError('onCancellable must be a function');
}

/**
 * Throws unless an event's fields besides its body, encoded, fit MAX_EVENT_FIELDS_BYTES:
 * past the room a receiver allows, the frame would close the connection. Measured
 * by UTF-16 length first (3 bytes a unit at most), exactly only when that is close.
 */
export function checkFieldsSize(event: EventFrame): void {
  if (fieldsBytes(event, (text) => text.length * 3) <= MAX_EVENT_FIELDS_BYTES) return;
  const bytes = fieldsBytes(event, (text) => Buffer.byteLength(text, 'utf8'));
  if (bytes > MAX_EVENT_FIELDS_BYTES) {
    throw new InvalidArgumentError(`the event's noun, args, query, mime type and request id take ${bytes} bytes; at most ${MAX_EVENT_FIELDS_BYTES} may`);
  }
}

/** Room for an Event frame's id, deadline, body length and wrapper, at most. */
const EVENT_FRAME_SLACK = 32;

/**
 * At least the bytes the Event's encoded frame will take: what it costs the peer
 * to hold it (InboundEvents charges the real length, never more than this).
 */
export function eventCostBytes(event: EventFrame): number {
  return event.data.length + fieldsBytes(event, (text) => text.length * 3) + EVENT_FRAME_SLACK;
}

/** A tag and a length for each field, at most. */
const FIELD = 6;

function fieldsBytes(e: EventFrame, size: (text: string) => number): number {
  let bytes = 3 * FIELD + size(e.verb) + size(e.mimeType) + size(e.requestId);
  for (const segment of e.noun) bytes += FIELD + size(segment);
  for (const arg of e.args) bytes += FIELD + size(arg);
  for (const param of e.query) {
    bytes += 2 * FIELD + size(param.key);
    for (const value of param.values) bytes += FIELD + size(value);
  }
  return bytes;
}

/** A streamed body's announced length (SPEC §12): a whole number of bytes, or none. */
export function checkStreamSize(size: unknown): number | undefined {
  if (size === undefined || size === null) return undefined;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new InvalidArgumentError(`size must be a whole number of bytes, got ${show(size)}`);
  }
  return size;
}
