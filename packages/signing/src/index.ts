/**
 * @restpipe/signing: SPEC §10 signed gateway requests. RFC 9421 HTTP Message
 * Signatures with hmac-sha256 over `"@method" "@path" "@query"` and an RFC 9530
 * `content-digest`, with `created`, `keyid`, `nonce` and `alg`. Structured fields
 * are parsed and serialized by `structured-headers`; the signature base is ours
 * (signature-base.ts), tested against RFC 9421 Appendix B.2.5.
 *
 * `restpipe` exports signRequest; the gateway uses the verifying half.
 */
export { signRequest, type SignableRequest, type SignOptions, type SignatureHeaders } from './sign.js';
export {
  verifySignature,
  checkSignedBody,
  hasSignature,
  nonceKeyOf,
  type VerifiableRequest,
  type VerifiedSignature,
  type HeaderValues,
} from './verify.js';
export { NonceStore, DEFAULT_MAX_NONCES, type NonceStoreOptions } from './nonce-store.js';
export { contentDigest, checkContentDigest } from './content-digest.js';
export { signatureBase, signatureParams, pathAndQuery, componentValue, type BaseMessage } from './signature-base.js';
export { ALG, hmacSha256, type KeyMaterial } from './hmac.js';
export { KEY_ID, NONCE, LABEL, MAX_SKEW_SECONDS, NONCE_TTL_MS, REQUIRED_COMPONENTS, DIGEST_COMPONENT } from './params.js';
