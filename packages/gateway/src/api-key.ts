import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Checks `Authorization: Bearer KEY` in constant time. Both sides are hashed
 * first, so neither the key's length nor its prefix leaks through timing.
 */
export function bearerMatches(header: string | undefined, key: string): boolean {
  const match = /^Bearer[ \t]+(.+)$/i.exec(header ?? '');
  const given = createHash('sha256').update(match?.[1]?.trim() ?? '').digest();
  const expected = createHash('sha256').update(key).digest();
  return timingSafeEqual(given, expected) && match !== null;
}
