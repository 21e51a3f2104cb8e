import { requestFingerprint } from '@restpipe/store';
import type { EventFrame } from '@restpipe/wire';

/**
 * What makes two events the same request: sha256 of verb, noun, args, query and body (not
 * the mime type or request id). An idempotency key's record compares repeats by it (SPEC
 * §8), and a hold's `digest` is it: what a decision applies to (SPEC §9).
 */
export function digestOf(event: EventFrame): string {
  return requestFingerprint({ verb: event.verb, noun: event.noun, args: event.args, query: event.query, body: event.data });
}
