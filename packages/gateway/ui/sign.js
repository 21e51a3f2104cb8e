/**
 * Signs the page's requests to a gateway run with `--signing-keys-file` (SPEC section 10), byte
 * for byte as packages/signing's signRequest signs a path: an RFC 9421 signature labelled `sig1`,
 * hmac-sha256 over "@method" "@path" "@query" and, when there is a body, "content-digest"
 * (RFC 9530, sha-256), with the parameters created, keyid, nonce and alg, in that order.
 * WebCrypto only: the secret becomes a key that can sign but not be read back, and is never sent.
 */

/** A key id, as packages/signing/src/params.ts KEY_ID: what `keyid` may carry. */
export const KEY_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
/** The gateway takes no shorter secret (packages/cli MIN_SIGNING_SECRET_BYTES). */
export const MIN_SECRET_BYTES = 32;
/** As params.ts NONCE: visible ASCII without `"` and `\`, so the sf-string needs no escape. */
const NONCE = /^[!#-[\]-~]{1,128}$/;
const LABEL = 'sig1';
const ALG = 'hmac-sha256';
const DIGEST_COMPONENT = 'content-digest';
const REQUIRED_COMPONENTS = ['@method', '@path', '@query'];
const utf8 = new TextEncoder();

/** crypto.subtle exists in a secure context only: https, or http to localhost / 127.0.0.1. */
export function canSign() {
  return typeof globalThis.crypto?.subtle?.sign === 'function';
}

/** The secret as the gateway holds it: the keys file's JSON string, as its UTF-8 bytes. */
export function secretBytes(secret) {
  return utf8.encode(secret);
}

/** The secret as an HMAC SHA-256 key, not extractable: script can sign with it, not read it. */
export function importSecret(secret) {
  return crypto.subtle.importKey('raw', secretBytes(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

function base64(bytes) {
  let text = '';
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

/** 16 random bytes as base64url, as signRequest makes its nonces: a new one for every request. */
export function freshNonce() {
  return base64(crypto.getRandomValues(new Uint8Array(16))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** RFC 9530 `Content-Digest` of `bytes`: `sha-256=:BASE64:`. */
export async function contentDigest(bytes) {
  return `sha-256=:${base64(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)))}:`;
}

/** What is sent: none, or a string as its UTF-8 bytes (as fetch encodes it). */
function bodyBytes(body) {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === 'string') return utf8.encode(body);
  throw new Error('the dashboard signs string bodies only');
}

/** The `@signature-params` value, as structured-headers' serializeInnerList writes it. */
function signatureParams(components, created, keyId, nonce) {
  return `(${components.map((name) => `"${name}"`).join(' ')});created=${created};keyid="${keyId}";nonce="${nonce}";alg="${ALG}"`;
}

/**
 * The headers to add to a request: `method`, `url` (a URL object: its path and query are what
 * fetch sends, and what is signed), `body` a string or none. `key` comes from importSecret.
 * `created` (unix seconds, default now) and `nonce` (default fresh) are there for tests.
 * Send the request with exactly this method, URL and body.
 */
export async function signatureHeaders({ method, url, body }, { keyId, key }, { created, nonce = freshNonce() } = {}) {
  if (typeof keyId !== 'string' || !KEY_ID.test(keyId)) throw new Error(`a key id must match ${KEY_ID.source}`);
  if (typeof nonce !== 'string' || !NONCE.test(nonce)) throw new Error('a nonce must be 1 to 128 visible ASCII characters, without " and \\');
  const seconds = created ?? Math.floor(Date.now() / 1000);
  if (!Number.isInteger(seconds) || seconds < 0) throw new Error('created must be whole unix seconds');
  const bytes = bodyBytes(body);
  const digest = bytes.length > 0 ? await contentDigest(bytes) : undefined;
  const components = digest ? [...REQUIRED_COMPONENTS, DIGEST_COMPONENT] : [...REQUIRED_COMPONENTS];
  const values = {
    '@method': String(method).toUpperCase(),
    // RFC 9421 2.2.6 and 2.2.7: an empty path is `/`; no query, or an empty one, is `?` alone.
    '@path': url.pathname || '/',
    '@query': url.search || '?',
    [DIGEST_COMPONENT]: digest,
  };
  const params = signatureParams(components, seconds, keyId, nonce);
  const base = [...components.map((name) => `"${name}": ${values[name]}`), `"@signature-params": ${params}`].join('\n');
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, utf8.encode(base)));
  return {
    'signature-input': `${LABEL}=${params}`,
    signature: `${LABEL}=:${base64(mac)}:`,
    ...(digest ? { 'content-digest': digest } : {}),
  };
}
