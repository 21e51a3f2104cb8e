/**
 * What makes two requests "the same" for an idempotency key (SPEC §8): verb, noun, args,
 * query and body. Query parameters compare by key regardless of order between keys (the
 * order of one key's values counts); the mime type and request id do not count.
 */
import { createHash } from 'node:crypto';
import type { JobQueryParam } from './job-types.js';

export interface FingerprintInput {
  readonly verb: string;
  readonly noun: readonly string[];
  readonly args?: readonly string[];
  readonly query?: readonly JobQueryParam[];
  readonly body?: Uint8Array;
}

function canonicalQuery(query: readonly JobQueryParam[]): [string, string[]][] {
  const byKey = new Map<string, string[]>();
  for (const { key, values } of query) {
    const all = byKey.get(key);
    if (all) for (const value of values) all.push(value);
    else byKey.set(key, [...values]);
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The sha256, in hex, of the request's parts. */
export function requestFingerprint(request: FingerprintInput): string {
  const head = JSON.stringify([request.verb, request.noun, request.args ?? [], canonicalQuery(request.query ?? [])]);
  // JSON text never holds a raw NUL, so the separator keeps head and body apart.
  return createHash('sha256').update(head).update('\0').update(request.body ?? new Uint8Array(0)).digest('hex');
}
