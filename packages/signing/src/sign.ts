import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '@restpipe/errors';
import { contentDigest } from './content-digest.js';
import { ALG, hmacSha256, type KeyMaterial } from './hmac.js';
import { DIGEST_COMPONENT, KEY_ID, LABEL, NONCE, REQUIRED_COMPONENTS } from './params.js';
import { signatureBase, signatureParams } from './signature-base.js';

/** Covered when the URL names a host: the signature is then good at that gateway alone. */
const AUTHORITY = '@authority';

/** The request to sign, as it will be sent. */
export interface SignableRequest {
  /** `GET`, `POST`, ...; sent upper case, as fetch sends the standard methods. */
  readonly method: string;
  /**
   * A full URL (`http://127.0.0.1:8001/server/sum?x=1`) or a path with its query
   * (`/server/sum?x=1`). Read as fetch reads it (WHATWG URL), so what is signed is
   * what fetch sends.
   */
  readonly url: string | URL;
  /** The request's headers. None of them is covered today (SPEC §10 covers the method, path, query and body). */
  readonly headers?: unknown;
  /** The body, exactly as it will be sent (a string as its UTF-8 bytes). None, or empty: no Content-Digest. */
  readonly body?: string | Uint8Array | ArrayBuffer | null | undefined;
}

export interface SignOptions {
  /** The key's id, as in the gateway's `--signing-keys-file`. */
  readonly keyId: string;
  /** The shared secret: a string (its UTF-8 bytes, as `--signing-keys-file` takes it) or the bytes. */
  readonly key: KeyMaterial;
  /** Unix seconds (or a Date); default now. */
  readonly created?: number | Date | undefined;
  /** Default: 16 random bytes, base64url. Never reuse one: the gateway refuses a nonce it has seen. */
  readonly nonce?: string | undefined;
  /**
   * Cover `@authority` (the URL's host and port, which the request's Host header must then
   * name): the signature is good at that gateway alone, not at another node holding the
   * same key. Default: true when `url` is a full URL; false turns it off for a proxy that
   * rewrites Host.
   */
  readonly authority?: boolean | undefined;
}

/** The headers to add to the request. */
export interface SignatureHeaders {
  'signature-input': string;
  signature: string;
  /** Present when the request has a body. */
  'content-digest'?: string;
}

/**
 * Signs a gateway request (SPEC §10): an RFC 9421 HTTP Message Signature with
 * hmac-sha256 over `"@method" "@path" "@query"` and, with a body, an RFC 9530
 * `content-digest`, with `created`, `keyid`, `nonce` and `alg`. Returns the headers
 * to add; send the request with exactly this method, URL and body.
 */
export function signRequest(request: SignableRequest, options: SignOptions): SignatureHeaders {
  const { keyId, nonce = randomBytes(16).toString('base64url') } = options;
  if (typeof keyId !== 'string' || !KEY_ID.test(keyId)) throw new InvalidArgumentError(`keyId must match ${KEY_ID.source}`);
  if (typeof nonce !== 'string' || !NONCE.test(nonce)) throw new InvalidArgumentError('nonce must be 1 to 128 visible ASCII characters, without " and \\');
  const method = String(request.method).toUpperCase();
  const { target, host } = targetOf(request.url);
  const body = bytesOf(request.body);
  const digest = body.length > 0 ? contentDigest(body) : undefined;
  const authority = options.authority ?? host !== undefined;
  if (authority && host === undefined) throw new InvalidArgumentError('authority: true needs a full URL, whose host is what it covers');
  const components: string[] = [...REQUIRED_COMPONENTS, ...(authority ? [AUTHORITY] : []), ...(digest ? [DIGEST_COMPONENT] : [])];
  const params = signatureParams(components, new Map<string, string | number>([
    ['created', createdOf(options.created)],
    ['keyid', keyId],
    ['nonce', nonce],
    ['alg', ALG],
  ]));
  const headers = (name: string): string | undefined => (name === DIGEST_COMPONENT ? digest : name === 'host' ? host : undefined);
  const mac = hmacSha256(keyMaterial(options.key), signatureBase(components, params, { method, target, header: headers }));
  return {
    'signature-input': `${LABEL}=${params}`,
    signature: `${LABEL}=:${mac.toString('base64')}:`,
    ...(digest ? { 'content-digest': digest } : {}),
  };
}

/** Path and query, as fetch would send them, and the host (with its port) a full URL names. */
function targetOf(url: string | URL): { target: string; host: string | undefined } {
  let parsed: URL;
  const isPath = typeof url === 'string' && url.startsWith('/');
  try {
    // A path goes after an origin, not through relative resolution: `//x` is a path here, not a host.
    parsed = url instanceof URL ? url : new URL(isPath ? `http://signing.invalid${url}` : url);
  } catch {
    throw new InvalidArgumentError('url must be a full URL or a path starting with /');
  }
  return { target: `${parsed.pathname}${parsed.search}`, host: isPath ? undefined : parsed.host };
}

function bytesOf(body: SignableRequest['body']): Uint8Array {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (body instanceof Uint8Array) return body;
  throw new InvalidArgumentError('body must be a string, a Buffer, a Uint8Array or an ArrayBuffer');
}

function createdOf(created: number | Date | undefined): number {
  const seconds = created === undefined ? Date.now() / 1000 : created instanceof Date ? created.getTime() / 1000 : created;
  if (!Number.isFinite(seconds) || seconds < 0 || seconds > 1e12) throw new InvalidArgumentError('created must be unix seconds (or a Date)');
  return Math.floor(seconds);
}

function keyMaterial(key: KeyMaterial): KeyMaterial {
  if (typeof key === 'string' ? key.length === 0 : !(key instanceof Uint8Array) || key.length === 0) {
    throw new InvalidArgumentError('key must be a non-empty string or Buffer');
  }
  return key;
}
