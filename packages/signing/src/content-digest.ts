import { createHash, timingSafeEqual } from 'node:crypto';
import { InvalidSignatureError } from '@restpipe/errors';
import { parseDictionary, type Dictionary } from 'structured-headers';

/**
 * RFC 9530 `Content-Digest`: a Structured Field Dictionary of algorithm to the
 * digest of the message content, as a Byte Sequence (`sha-256=:BASE64:`).
 */

/** The algorithms we compute and check, by their RFC 9530 names. */
const ALGORITHMS = { 'sha-256': 'sha256', 'sha-512': 'sha512' } as const;
type DigestName = keyof typeof ALGORITHMS;

/** The one algorithm a sender must include (SPEC §10); others we know are checked too. */
export const REQUIRED_DIGEST: DigestName = 'sha-256';

/** The `Content-Digest` value of `body`: `sha-256=:BASE64:`. */
export function contentDigest(body: Uint8Array): string {
  return `${REQUIRED_DIGEST}=:${digestOf(REQUIRED_DIGEST, body).toString('base64')}:`;
}

/**
 * Checks `header` against `body`: it must parse, hold a `sha-256` member, and every
 * member we know (`sha-256`, `sha-512`) must match. Members of other algorithms are
 * ignored, as RFC 9530 allows. Throws InvalidSignatureError saying what is wrong,
 * never what the digest should have been.
 */
export function checkContentDigest(header: string | undefined, body: Uint8Array): void {
  if (header === undefined || header === '') throw new InvalidSignatureError('the signature covers content-digest, but the request has no Content-Digest header');
  const members = parseDigestHeader(header);
  if (!members.has(REQUIRED_DIGEST)) throw new InvalidSignatureError(`Content-Digest has no ${REQUIRED_DIGEST} member`);
  for (const [name, member] of members) {
    if (!isKnown(name)) continue;
    const given = member[0];
    if (!(given instanceof ArrayBuffer)) throw new InvalidSignatureError(`Content-Digest ${name} is not a byte sequence (:BASE64:)`);
    const expected = digestOf(name, body);
    const bytes = Buffer.from(given);
    if (bytes.length !== expected.length || !timingSafeEqual(bytes, expected)) {
      throw new InvalidSignatureError(`the body does not match its Content-Digest (${name}): it was changed after signing, or the digest was made over other bytes`);
    }
  }
}

function parseDigestHeader(header: string): Dictionary {
  try {
    return parseDictionary(header);
  } catch {
    throw new InvalidSignatureError('Content-Digest is not a structured field dictionary (RFC 9530: sha-256=:BASE64:)');
  }
}

function isKnown(name: string): name is DigestName {
  return Object.hasOwn(ALGORITHMS, name);
}

function digestOf(name: DigestName, body: Uint8Array): Buffer {
  return createHash(ALGORITHMS[name]).update(body).digest();
}
