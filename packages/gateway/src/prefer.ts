/**
 * The request headers of SPEC §8: `Prefer` (RFC 7240: `respond-async`, `wait=N`),
 * `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header: a structured-field string,
 * taken quoted or bare) and `X-Job-Ttl-Ms`. A bad one is 400 naming it; nothing is sent.
 */
import { InvalidRequestError, isIdempotencyKey, MAX_IDEMPOTENCY_KEY_LENGTH, MAX_MS } from '@restpipe/core';

export interface Preferences {
  readonly respondAsync: boolean;
  /** Seconds to wait for the job's end before answering 202; undefined when not asked. */
  readonly waitSeconds: number | undefined;
}

/** The longest `wait` taken: one day. */
export const MAX_WAIT_SECONDS = 86_400;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const NONE: Preferences = Object.freeze({ respondAsync: false, waitSeconds: undefined });

type Header = string | string[] | undefined;

/**
 * RFC 7240 `Prefer`: unknown preferences are ignored, as it says, and so is a repeat of one
 * (the first instance counts); malformed ones are refused. Quoted values may hold `,` and `;`.
 */
export function parsePrefer(header: Header): Preferences {
  if (header === undefined) return NONE;
  const text = Array.isArray(header) ? header.join(',') : header;
  let respondAsync = false;
  let waitSeconds: number | undefined;
  const seen = new Set<string>();
  for (const element of splitOutsideQuotes(text, ',')) {
    const preference = splitOutsideQuotes(element, ';')[0]!.trim();
    if (preference === '') continue;
    const eq = preference.indexOf('=');
    const name = (eq < 0 ? preference : preference.slice(0, eq)).trim().toLowerCase();
    if (!TOKEN.test(name)) throw new InvalidRequestError(`Prefer: ${JSON.stringify(preference)} is no preference (RFC 7240)`);
    if (seen.has(name)) continue;
    seen.add(name);
    const value = eq < 0 ? undefined : unquote(preference.slice(eq + 1).trim());
    if (name === 'respond-async') {
      if (value !== undefined) throw new InvalidRequestError('Prefer: respond-async takes no value');
      respondAsync = true;
    } else if (name === 'wait') {
      waitSeconds = waitOf(value);
    }
  }
  return respondAsync || waitSeconds !== undefined ? { respondAsync, waitSeconds } : NONE;
}

/** Splits on `separator` where it is not inside a quoted string (with `\` escapes). */
function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted && c === '\\') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && c === separator) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function waitOf(value: string | undefined): number {
  const seconds = value !== undefined && /^\d{1,6}$/.test(value) ? Number(value) : NaN;
  if (!(seconds <= MAX_WAIT_SECONDS)) {
    throw new InvalidRequestError(`Prefer: wait must be a whole number of seconds from 0 to ${MAX_WAIT_SECONDS}, got ${JSON.stringify(value ?? '')}`);
  }
  return seconds;
}

function unquote(value: string): string {
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) return value.slice(1, -1).replace(/\\(.)/g, '$1');
  return value;
}

/** `Idempotency-Key`, or undefined when absent. */
export function idempotencyKeyOf(header: Header): string | undefined {
  if (header === undefined) return undefined;
  if (Array.isArray(header)) throw new InvalidRequestError('Idempotency-Key: give one key, not several');
  const raw = header.trim();
  const key = unquote(raw);
  if (!isIdempotencyKey(key)) {
    throw new InvalidRequestError(`Idempotency-Key must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters`);
  }
  return key;
}

/** `X-Job-Ttl-Ms`, or undefined when absent. */
export function jobTtlOf(header: Header): number | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? '' : header.trim();
  const ms = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(ms >= 1 && ms <= MAX_MS)) throw new InvalidRequestError(`X-Job-Ttl-Ms must be a whole number of ms from 1 to ${MAX_MS}`);
  return ms;
}
