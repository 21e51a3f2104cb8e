import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError, InvalidSignatureError, isReadable, NonceStoreFullError, ReplayedRequestError, RpError, StoreError, UnauthorizedError } from '@restpipe/core';
import {
  checkSignedBody,
  hasSignature,
  NONCE_TTL_MS,
  nonceKeyOf,
  NonceStore,
  verifySignature,
  type VerifiedSignature,
} from '@restpipe/signing';
import { bearerMatches } from './api-key.js';
import { API_KEY_PRINCIPAL, LOCAL_PRINCIPAL, setPrincipal } from './principal.js';

export interface AuthOptions {
  /** `Authorization: Bearer KEY` lets a request in. */
  readonly apiKey?: string | undefined;
  /**
   * An RFC 9421 signature by one of these keys (key id -> secret) lets a request in (SPEC §10).
   * A SigningKeyRing can be replaced while the gateway runs (SIGHUP).
   */
  readonly signingKeys?: ReadonlyMap<string, Buffer> | SigningKeyRing | undefined;
  /** Nonces remembered at once; see NonceStore. */
  readonly maxNonces?: number | undefined;
  /** The nonces on disk (the node's data directory), when it has one: a restart then forgets none. */
  readonly nonceJournal?: (() => NonceJournalApi | undefined) | undefined;
}

/** What auth needs of the store's NonceJournal. */
export interface NonceJournalApi {
  has(key: string): boolean;
  /** Resolves false when a live one is there already; rejects when it could not be stored. */
  add(key: string, expiresAt: number): Promise<boolean>;
}

/** As the CLI asks of a keys file: an HMAC key shorter than its output is weaker than it. */
const MIN_SECRET_BYTES = 32;
/**
 * The routes that need nothing: a liveness probe, and the dashboard's page and assets
 * (SPEC §13; they hold no data, and the page asks for the key its data routes need).
 * Matched by the route found, never by the raw URL's text.
 */
const OPEN_ROUTES: ReadonlySet<string> = new Set(['/_rp/health', '/_rp/ui', '/_rp/ui/', '/_rp/ui/*']);
/** What a signer should send (RFC 9421 §5.1 Accept-Signature), without and with a body. */
const ACCEPT_SIGNATURE = 'sig1=("@method" "@path" "@query");created;nonce;alg="hmac-sha256"';
const ACCEPT_SIGNATURE_WITH_BODY = 'sig1=("@method" "@path" "@query" "content-digest");created;nonce;alg="hmac-sha256"';

/**
 * Who may use the gateway. With an API key, a matching bearer key lets a request in;
 * with signing keys, a valid signature does; with both, either one. A gateway with
 * neither adds no hook at all. The proven principal (key id, `api-key`) is what
 * principalOf() then reports, for a hold's `decidedBy`.
 *
 * A signature is checked in two steps. On `onRequest`, before any body is read: its
 * parameters, its MAC, and whether its nonce was seen. On `preValidation`, once the
 * body is in: the body against its Content-Digest, then the nonce is stored, check
 * and insert at once. So a nonce is stored only for a request whose signature and
 * body both verified, and of two requests with one nonce only the first gets in.
 * Nonces are kept in memory, and with a data directory on disk too (fsynced before the
 * request goes on), so that a restart forgets none. Without one, a signature `created`
 * before this gateway started is refused instead (one signed ahead of the gateway's clock,
 * captured before a restart, can still be replayed once after it: see SECURITY.md).
 */
export function registerAuth(app: FastifyInstance, options: AuthOptions): void {
  const { apiKey } = options;
  if (apiKey === '') throw new ConfigError('apiKey is empty: give a key, or none at all');
  const ring = options.signingKeys === undefined ? undefined
    : options.signingKeys instanceof SigningKeyRing ? options.signingKeys : new SigningKeyRing(options.signingKeys);
  const keys = ring === undefined ? undefined : { get current() { return ring.keys; } };
  if (apiKey === undefined && keys === undefined) return;
  const nonces = keys ? new NonceStore({ maxEntries: options.maxNonces }) : undefined;
  // Without a journal, nonces live in memory alone: those seen before this start are gone,
  // so a request signed before it could be a replay.
  const startedSeconds = Math.floor(Date.now() / 1000);
  const journalOf = options.nonceJournal ?? (() => undefined);
  const pending = new WeakMap<FastifyRequest, VerifiedSignature>();
  app.addHook('onRequest', (request, reply, done) => {
    if (OPEN_ROUTES.has(request.routeOptions.url ?? '')) return done();
    if (apiKey !== undefined && bearerMatches(request.headers.authorization, apiKey)) {
      setPrincipal(request, API_KEY_PRINCIPAL);
      return done();
    }
    try {
      if (keys === undefined || (apiKey !== undefined && !hasSignature(request.headers))) throw unauthorized(keys !== undefined);
      const verified = verifySignature({ method: request.method, url: request.raw.url ?? request.url, headers: request.headers }, keys.current);
      const journal = journalOf();
      if (journal === undefined && verified.created < startedSeconds) throw signedBeforeStart(startedSeconds - verified.created);
      const key = nonceKeyOf(verified);
      if (nonces!.has(key) || journal?.has(key)) throw replayed();
      pending.set(request, verified);
      done();
    } catch (error) {
      done(refusal(request, reply, error, options));
    }
  });
  if (!keys) return;
  app.addHook('preValidation', (request, reply, done) => {
    const verified = pending.get(request);
    if (verified === undefined) return done();
    pending.delete(request);
    let key: string;
    try {
      checkSignedBody(verified, request.headers, bodyBytes(request.body));
      key = nonceKeyOf(verified);
      if (!nonces!.add(key)) throw replayed();
    } catch (error) {
      return done(refusal(request, reply, error, options));
    }
    const journal = journalOf();
    if (journal === undefined) {
      setPrincipal(request, verified.keyId);
      return done();
    }
    // On disk before the request goes on: a node killed right after it must not forget the nonce.
    journal.add(key, Date.now() + NONCE_TTL_MS).then(
      (added) => {
        if (!added) return done(refusal(request, reply, replayed(), options));
        setPrincipal(request, verified.keyId);
        done();
      },
      (error: unknown) => done(new StoreError(`the nonce could not be kept: ${(error as Error)?.message ?? String(error)}`)),
    );
  });
}

/** The signing keys a gateway takes now; `replace` swaps them all at once (a SIGHUP's reload). */
export class SigningKeyRing {
  #keys: ReadonlyMap<string, Buffer>;

  /** Throws ConfigError for an empty set, a short secret or a reserved key id. */
  constructor(keys: ReadonlyMap<string, Buffer>) {
    this.#keys = checkedKeys(keys);
  }

  get keys(): ReadonlyMap<string, Buffer> {
    return this.#keys;
  }

  /** Takes `keys` from now on; throws ConfigError (and keeps the current ones) for a bad set. */
  replace(keys: ReadonlyMap<string, Buffer>): void {
    this.#keys = checkedKeys(keys);
  }
}

/** Key ids that would read as another principal in `decidedBy` are refused. */
function checkedKeys(keys: ReadonlyMap<string, Buffer>): ReadonlyMap<string, Buffer> {
  if (keys.size === 0) throw new ConfigError('signingKeys is empty: give at least one key, or none at all');
  for (const [id, secret] of keys) {
    if (secret.length < MIN_SECRET_BYTES) throw new ConfigError(`signing key "${id}" is ${secret.length} bytes; a secret must be at least ${MIN_SECRET_BYTES}`);
  }
  for (const reserved of [LOCAL_PRINCIPAL, API_KEY_PRINCIPAL]) {
    if (keys.has(reserved)) throw new ConfigError(`signing key id "${reserved}" is reserved: decidedBy says "${reserved}" for requests without a signature`);
  }
  return keys;
}

function unauthorized(signaturesToo: boolean): UnauthorizedError {
  return new UnauthorizedError(signaturesToo ? 'missing or wrong API key, and no RFC 9421 signature' : 'missing or wrong API key');
}

function signedBeforeStart(seconds: number): InvalidSignatureError {
  return new InvalidSignatureError(`created is ${seconds} s before this gateway started, and with --data-dir off it keeps no nonces across a restart: `
    + 'sign the request again (if this keeps happening, the signer\'s clock is behind)');
}

function replayed(): ReplayedRequestError {
  return new ReplayedRequestError('this nonce was already used within the last 660 s: a replayed request (sign each request anew)');
}

/** What the body parser made of the body: the '*' parser's Buffer, or none. */
function bodyBytes(body: unknown): Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (isReadable(body)) {
    throw new InvalidSignatureError('a signed request\'s body must fit in --max-event-bytes: the Content-Digest of a streamed body cannot be checked before it is sent');
  }
  // A route that parsed its body into something else has lost the bytes the digest was made over.
  throw new InvalidSignatureError('this route parses its body, so its Content-Digest cannot be checked');
}

/** The error to answer with, and the headers that tell the caller what would work. */
function refusal(request: FastifyRequest, reply: FastifyReply, error: unknown, options: AuthOptions): Error {
  if (options.apiKey !== undefined) reply.header('www-authenticate', 'Bearer');
  if (options.signingKeys !== undefined) reply.header('accept-signature', expectsBody(request) ? ACCEPT_SIGNATURE_WITH_BODY : ACCEPT_SIGNATURE);
  if (error instanceof NonceStoreFullError) reply.header('retry-after', '1');
  if (error instanceof RpError) return error;
  // Not ours (a parser's surprise): still a refusal, never a crash or a 500.
  request.log.warn({ err: (error as Error)?.message }, 'signature check failed unexpectedly');
  return new InvalidSignatureError('the signature headers could not be read', { cause: error });
}

function expectsBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
