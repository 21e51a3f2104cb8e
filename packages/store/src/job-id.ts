/**
 * Job ids: ULIDs (26 characters of Crockford base32: 48 bits of ms time, 80 random bits).
 * They sort as they were made, also within one ms (the random part then counts up), so
 * ordering by id breaks ties in `created_at`, and an id says nothing guessable.
 */
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const RANDOM_BITS = 80n;
const RANDOM_MAX = (1n << RANDOM_BITS) - 1n;

let lastTime = -1;
let lastRandom = 0n;

function encode(value: bigint, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    out = ALPHABET[Number(value & 31n)]! + out;
    value >>= 5n;
  }
  return out;
}

function freshRandom(): bigint {
  return BigInt(`0x${randomBytes(10).toString('hex')}`);
}

/** A new job id for time `now` (ms); later calls never sort before earlier ones. */
export function newJobId(now: number): string {
  let time = Math.max(Math.trunc(now), lastTime);
  if (time === lastTime) {
    lastRandom += 1n;
    if (lastRandom > RANDOM_MAX) {
      time += 1;
      lastRandom = freshRandom();
    }
  } else {
    lastRandom = freshRandom();
  }
  lastTime = time;
  return encode(BigInt(time), 10) + encode(lastRandom, 16);
}

/** True for a string shaped like a job id (a route checks ids before it asks the store). */
export function isJobId(value: string): boolean {
  return /^[0-9A-HJKMNP-TV-Z]{26}$/.test(value);
}
