import { InvalidSignatureError } from '@restpipe/errors';
import { isInnerList, parseDictionary, type Dictionary, type InnerList, type Parameters } from 'structured-headers';
import { ALG } from './hmac.js';
import { DIGEST_COMPONENT, KEY_ID, MAX_SKEW_SECONDS, NONCE, REQUIRED_COMPONENTS } from './params.js';
import { isSupportedComponent, signatureParams } from './signature-base.js';

/** One signature of a request, as its `Signature-Input` member describes it, checked. */
export interface SignatureInput {
  readonly label: string;
  readonly keyId: string;
  readonly components: readonly string[];
  /** The `@signature-params` line's value: the member re-serialized (RFC 9421 §2.3). */
  readonly paramsValue: string;
  readonly created: number;
  readonly nonce: string;
  readonly coversDigest: boolean;
}

/**
 * Picks the signature made with one of `keys` from a `Signature-Input` header (the
 * first member whose `keyid` we hold) and checks its parameters: `alg="hmac-sha256"`,
 * `created` within MAX_SKEW_SECONDS of `nowSeconds`, an `expires` not past, a sane
 * `nonce`, and the required components, each one we can derive, none twice.
 */
export function parseSignatureInput(header: string, keys: ReadonlyMap<string, unknown>, nowSeconds: number): SignatureInput {
  const [label, member] = pickMember(parseField('Signature-Input', header), keys);
  const params = member[1];
  const keyId = params.get('keyid') as string;
  const alg = params.get('alg');
  if (alg !== ALG) throw new InvalidSignatureError(`alg must be "${ALG}"${alg === undefined ? '; the signature has none' : ''}`);
  const created = checkCreated(params, nowSeconds);
  checkExpires(params, nowSeconds);
  const nonce = params.get('nonce');
  if (nonce === undefined) throw new InvalidSignatureError('the signature has no nonce');
  if (typeof nonce !== 'string' || !NONCE.test(nonce)) throw new InvalidSignatureError('nonce must be a string of 1 to 128 visible ASCII characters');
  const components = componentsOf(member);
  return { label, keyId, components, paramsValue: signatureParams(components, params), created, nonce, coversDigest: components.includes(DIGEST_COMPONENT) };
}

/** The MAC a `Signature` header carries under `label`. */
export function signatureBytes(header: string, label: string): Uint8Array {
  const member = parseField('Signature', header).get(label);
  if (member === undefined) throw new InvalidSignatureError(`the Signature header has no ${label} member to match Signature-Input`);
  const value = member[0];
  if (isInnerList(member) || !(value instanceof ArrayBuffer)) throw new InvalidSignatureError(`Signature ${label} is not a byte sequence (:BASE64:)`);
  return new Uint8Array(value);
}

function parseField(name: string, header: string): Dictionary {
  try {
    return parseDictionary(header);
  } catch {
    throw new InvalidSignatureError(`${name} is not a structured field dictionary (RFC 9421 §4)`);
  }
}

function pickMember(members: Dictionary, keys: ReadonlyMap<string, unknown>): [string, InnerList] {
  let named: string | undefined;
  for (const [label, member] of members) {
    if (!isInnerList(member)) continue;
    const keyId = member[1].get('keyid');
    if (typeof keyId !== 'string') continue;
    if (keys.has(keyId)) return [label, member];
    named ??= keyId;
  }
  if (named === undefined) throw new InvalidSignatureError('Signature-Input names no keyid (an inner list with keyid="...")');
  throw new InvalidSignatureError(KEY_ID.test(named) ? `unknown key id "${named}"` : 'unknown key id');
}

function checkCreated(params: Parameters, nowSeconds: number): number {
  const created = params.get('created');
  if (created === undefined) throw new InvalidSignatureError('the signature has no created time');
  if (typeof created !== 'number' || !Number.isInteger(created)) throw new InvalidSignatureError('created must be an integer (unix seconds)');
  const away = Math.abs(nowSeconds - created);
  if (away > MAX_SKEW_SECONDS) {
    throw new InvalidSignatureError(`created is ${away} s away from now (${created > nowSeconds ? 'ahead' : 'behind'}); at most ${MAX_SKEW_SECONDS} s is accepted`);
  }
  return created;
}

function checkExpires(params: Parameters, nowSeconds: number): void {
  const expires = params.get('expires');
  if (expires === undefined) return;
  if (typeof expires !== 'number' || !Number.isInteger(expires)) throw new InvalidSignatureError('expires must be an integer (unix seconds)');
  if (expires < nowSeconds) throw new InvalidSignatureError(`the signature expired ${nowSeconds - expires} s ago`);
}

/** More than any request needs; a cap on the work one header can ask for. */
const MAX_COMPONENTS = 32;

function componentsOf(member: InnerList): string[] {
  if (member[0].length > MAX_COMPONENTS) throw new InvalidSignatureError(`a signature may cover at most ${MAX_COMPONENTS} components`);
  const components: string[] = [];
  for (const [name, params] of member[0]) {
    if (typeof name !== 'string') throw new InvalidSignatureError('every covered component must be a string ("@method", "content-digest", ...)');
    if (params.size > 0) throw new InvalidSignatureError(`component parameters are not supported (on "${shown(name)}")`);
    if (!isSupportedComponent(name)) throw new InvalidSignatureError(`component "${shown(name)}" is not supported here`);
    if (components.includes(name)) throw new InvalidSignatureError(`component "${shown(name)}" is covered twice`);
    components.push(name);
  }
  const missing = REQUIRED_COMPONENTS.filter((name) => !components.includes(name));
  if (missing.length > 0) throw new InvalidSignatureError(`the signature must cover ${missing.map((n) => `"${n}"`).join(' ')}`);
  return components;
}

/** A name from the request, cut short for a message. */
function shown(name: string): string {
  return name.length > 64 ? `${name.slice(0, 64)}...` : name;
}
