import { InvalidSignatureError } from '@restpipe/errors';
import { checkContentDigest } from './content-digest.js';
import { macMatches, MAC_BYTES, type KeyMaterial } from './hmac.js';
import { DIGEST_COMPONENT } from './params.js';
import { signatureBase, type BaseMessage } from './signature-base.js';
import { parseSignatureInput, signatureBytes } from './signature-input.js';

/** Header values by lowercase name, as Node's `IncomingMessage.headers` has them. */
export type HeaderValues = Readonly<Record<string, string | readonly string[] | undefined>>;

/** A received request, before its body is read. */
export interface VerifiableRequest {
  readonly method: string;
  /** The request target as received: path and query (Node's `req.url`). */
  readonly url: string;
  readonly headers: HeaderValues;
}

/** A signature whose MAC verified: who made it, and what is left to check once the body is in. */
export interface VerifiedSignature {
  readonly keyId: string;
  readonly nonce: string;
  readonly created: number;
  /** Whether the signature covers `content-digest` (then the body must match it). */
  readonly coversDigest: boolean;
}

/** The request carries a signature (or half of one) to check. */
export function hasSignature(headers: HeaderValues): boolean {
  return headers['signature-input'] !== undefined || headers['signature'] !== undefined;
}

/**
 * Checks a request's RFC 9421 signature (SPEC §10) as far as it can be checked
 * before the body: its parameters (see parseSignatureInput), then its hmac-sha256
 * MAC, compared in constant time, under the key its `keyid` names. Every key in
 * `keys` is valid: two or more at once is how keys are rotated. Throws
 * InvalidSignatureError saying what is wrong; never the MAC it expected.
 * The body and the nonce are the caller's to check next: checkSignedBody, NonceStore.
 */
export function verifySignature(request: VerifiableRequest, keys: ReadonlyMap<string, KeyMaterial>, nowSeconds = Math.floor(Date.now() / 1000)): VerifiedSignature {
  const inputHeader = single(request.headers, 'signature-input');
  const signatureHeader = single(request.headers, 'signature');
  if (inputHeader === undefined || signatureHeader === undefined) {
    throw new InvalidSignatureError(inputHeader === signatureHeader
      ? 'this gateway needs an RFC 9421 signature: Signature-Input and Signature headers (see signRequest)'
      : `the request has ${inputHeader === undefined ? 'Signature but no Signature-Input' : 'Signature-Input but no Signature'}`);
  }
  const input = parseSignatureInput(inputHeader, keys, nowSeconds);
  const given = signatureBytes(signatureHeader, input.label);
  if (given.length !== MAC_BYTES) throw new InvalidSignatureError(`an hmac-sha256 signature is ${MAC_BYTES} bytes; this one is ${given.length}`);
  const base = signatureBase(input.components, input.paramsValue, messageOf(request));
  if (!macMatches(keys.get(input.keyId)!, base, given)) {
    throw new InvalidSignatureError(`the signature does not match the request under key id "${input.keyId}": a wrong key, or the method, path, query or Content-Digest changed after signing`);
  }
  return { keyId: input.keyId, nonce: input.nonce, created: input.created, coversDigest: input.coversDigest };
}

/**
 * The second half, once the body is read: a body needs a signature that covers
 * `content-digest`, and a covered digest must match the body. An empty body is no
 * body (no digest needed), but a digest that is covered is checked all the same.
 */
export function checkSignedBody(signature: VerifiedSignature, headers: HeaderValues, body: Uint8Array | undefined): void {
  const bytes = body ?? new Uint8Array(0);
  if (!signature.coversDigest) {
    if (bytes.length > 0) throw new InvalidSignatureError('the request has a body, but its signature does not cover content-digest');
    return;
  }
  checkContentDigest(single(headers, DIGEST_COMPONENT), bytes);
}

/** What a NonceStore remembers for a signature: nonces are per key id. */
export function nonceKeyOf(signature: VerifiedSignature): string {
  return `${signature.keyId} ${signature.nonce}`;
}

function messageOf(request: VerifiableRequest): BaseMessage {
  return { method: request.method, target: request.url, header: (name) => single(request.headers, name) };
}

/** A field's lines as one value (RFC 9110 §5.3). */
function single(headers: HeaderValues, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' || value === undefined ? value : value.join(', ');
}
