/**
 * The shapes of what goes into `Signature-Input` (SPEC §10), shared by the signer
 * and the verifier so that whatever one makes, the other takes.
 */

/** A key id: what `keyid` carries, what a hold's `decidedBy` records, and a key's name in `--signing-keys-file`. */
export const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** A nonce: 1 to 128 visible ASCII characters, without `"` and `\` (which a structured field string would escape). */
export const NONCE = /^[!#-[\]-~]{1,128}$/;

/** The label signRequest gives its signature. */
export const LABEL = 'sig1';

/** How far `created` may be from the verifier's clock, either way. */
export const MAX_SKEW_SECONDS = 300;

/**
 * How long a nonce is remembered once seen. A signature is accepted for at most
 * 2 × MAX_SKEW_SECONDS (600 s) of the verifier's clock, so a nonce kept longer than
 * that is never forgotten while its request could still be accepted; the extra
 * 60 s cover a request that sat in a queue or a clock that stepped.
 */
export const NONCE_TTL_MS = 660_000;

/** The components every signature must cover; `content-digest` too when the request has a body. */
export const REQUIRED_COMPONENTS = ['@method', '@path', '@query'] as const;
export const DIGEST_COMPONENT = 'content-digest';
