import { createHmac, timingSafeEqual } from 'node:crypto';

/** The one algorithm SPEC §10 signs with, by its RFC 9421 name. */
export const ALG = 'hmac-sha256';
/** Bytes of an hmac-sha256 MAC. */
export const MAC_BYTES = 32;

/** A signing key: its text as UTF-8 bytes, or the bytes themselves. */
export type KeyMaterial = string | Uint8Array;

export function hmacSha256(key: KeyMaterial, base: string): Buffer {
  return createHmac('sha256', typeof key === 'string' ? Buffer.from(key, 'utf8') : key).update(base, 'utf8').digest();
}

/** `given` is the MAC of `base` under `key`, compared in constant time. */
export function macMatches(key: KeyMaterial, base: string, given: Uint8Array): boolean {
  const expected = hmacSha256(key, base);
  // The length of an hmac-sha256 MAC is public; only equal lengths reach timingSafeEqual.
  return given.length === expected.length && timingSafeEqual(given, expected);
}
