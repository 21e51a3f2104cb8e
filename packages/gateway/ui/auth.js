/**
 * How the page proves itself to the gateway, kept for this tab only (sessionStorage, never a
 * cookie, never in a URL): its API key (`rp-api-key`), sent as `Authorization: Bearer KEY`, or
 * a signing key id and secret (`rp-signing-key`, for `--signing-keys-file`), with which every
 * request is signed (sign.js); the secret itself is never sent.
 */
import { byId, setText } from './dom.js';
import { canSign, importSecret, KEY_ID, MIN_SECRET_BYTES, secretBytes, signatureHeaders } from './sign.js';

const KEY_NAME = 'rp-api-key';
const SIGNING_NAME = 'rp-signing-key';
/** What a header value can carry; anything else would make fetch() throw. */
const KEY_SHAPE = /^[\x21-\x7e]+$/;
/** Our clock this far from the gateway's (by its Date header): sign with the gateway's time. */
const CLOCK_OFF_S = 30;

/** Storage disabled: what is kept lives as long as the page. */
const fallback = new Map();
/** The imported key for the stored secret, made once: { secret, key: Promise<CryptoKey> }. */
let signer = null;
/** Seconds the gateway's clock is ahead of ours; 0 unless it is far off. */
let clockOffsetS = 0;
let waiting = null;
/** 'bearer' or 'signature': what the prompt asks for now. */
let mode = 'bearer';

function read(name) {
  try {
    return sessionStorage.getItem(name);
  } catch {
    return fallback.get(name) ?? null;
  }
}

function write(name, value) {
  try {
    sessionStorage.setItem(name, value);
  } catch {
    fallback.set(name, value);
  }
}

function remove(name) {
  fallback.delete(name);
  try {
    sessionStorage.removeItem(name);
  } catch {
    // Nothing stored.
  }
}

export function storedKey() {
  return read(KEY_NAME);
}

/** `{ keyId, secret }`, or null. */
function storedSigningKey() {
  try {
    const value = JSON.parse(read(SIGNING_NAME) ?? 'null');
    return typeof value?.keyId === 'string' && KEY_ID.test(value.keyId) && typeof value?.secret === 'string' ? value : null;
  } catch {
    return null;
  }
}

/** What the page holds now: 'bearer', 'signature' or null. */
export function storedKind() {
  if (storedKey() !== null) return 'bearer';
  return storedSigningKey() !== null ? 'signature' : null;
}

export function forgetKey() {
  remove(KEY_NAME);
  remove(SIGNING_NAME);
  signer = null;
}

async function signed(headers, signing, method, url, body) {
  if (signer?.secret !== signing.secret) signer = { secret: signing.secret, key: importSecret(signing.secret) };
  const created = Math.floor(Date.now() / 1000) + clockOffsetS;
  const added = await signatureHeaders({ method, url, body }, { keyId: signing.keyId, key: await signer.key }, { created });
  for (const [name, value] of Object.entries(added)) headers.set(name, value);
}

/** Learns the gateway's clock from a response; true when that changed how we sign. */
function noteGatewayClock(response) {
  const date = Date.parse(response.headers.get('date') ?? '');
  if (!Number.isFinite(date)) return false;
  const offset = Math.round((date - Date.now()) / 1000);
  if (Math.abs(offset - clockOffsetS) <= CLOCK_OFF_S) return false;
  clockOffsetS = Math.abs(offset) > CLOCK_OFF_S ? offset : 0;
  return true;
}

/**
 * fetch() with the stored key, or signed with the stored signing key; same-origin only, never
 * cached. A signed request refused while our clock was found far off is signed again, once.
 */
export async function authFetch(path, init = {}) {
  const url = new URL(path, location.href);
  if (url.origin !== location.origin) throw new Error('the dashboard talks to its own gateway only');
  const method = String(init.method ?? 'GET').toUpperCase();
  const send = async () => {
    const headers = new Headers(init.headers);
    const key = storedKey();
    const signing = key === null ? storedSigningKey() : null;
    if (key !== null) headers.set('authorization', `Bearer ${key}`);
    else if (signing) await signed(headers, signing, method, url, init.body);
    const response = await fetch(url, { ...init, method, headers, credentials: 'same-origin', cache: 'no-store', redirect: 'error' });
    return { response, clockMoved: signing !== null && noteGatewayClock(response) };
  };
  const first = await send();
  if (first.response.status !== 401 || !first.clockMoved) return first.response;
  first.response.body?.cancel().catch(() => undefined);
  return (await send()).response;
}

/**
 * What a 401 says: the ways the gateway takes (`www-authenticate: Bearer`, `accept-signature`;
 * neither named: the API key) and its message. Reads the response's body.
 */
export async function refusalOf(response) {
  const bearer = /\bbearer\b/i.test(response.headers.get('www-authenticate') ?? '');
  const signature = response.headers.has('accept-signature');
  let reason = '';
  try {
    const message = (await response.json())?.exception?.message;
    if (typeof message === 'string') reason = message;
  } catch {
    // Not the error envelope.
  }
  return { offers: bearer || signature ? { bearer, signature } : { bearer: true, signature: false }, reason };
}

function showMode(offers, next) {
  const both = offers.bearer && offers.signature;
  mode = offers.signature && (next === 'signature' || !offers.bearer) ? 'signature' : 'bearer';
  const signing = mode === 'signature';
  byId('key-modes').hidden = !both;
  byId(signing ? 'key-mode-signature' : 'key-mode-bearer').checked = true;
  byId('key-id-label').hidden = !signing;
  byId('key-id-input').hidden = !signing;
  setText(byId('key-id-label'), both ? 'key id' : 'This gateway needs a signing key: key id');
  setText(byId('key-label'), signing ? 'secret' : both ? 'API key' : 'This gateway needs its API key');
  setText(byId('key-note'), signing
    ? 'Kept in this tab\'s session storage only; it signs each request (RFC 9421, hmac-sha256) and is never sent.'
    : 'Kept in this tab\'s session storage only, and sent as an Authorization header.');
}

/**
 * Shows the key form for what the gateway takes (`offers`, from refusalOf; `kind` the one to
 * show first); resolves once a key has been entered and stored.
 */
export function askForKey(message = '', offers = { bearer: true, signature: false }, kind = mode) {
  const form = byId('key-prompt');
  showMode(offers, kind);
  setText(byId('key-error'), message);
  form.hidden = false;
  form.dataset.offers = [offers.bearer && 'bearer', offers.signature && 'signature'].filter(Boolean).join(' ');
  byId(mode === 'signature' ? 'key-id-input' : 'key-input').focus();
  waiting ??= new Promise((resolve) => {
    form.addEventListener('rp-key', () => resolve(), { once: true });
  });
  return waiting;
}

/** The typed API key stored, or why not ('' when nothing was typed). */
function takeApiKey() {
  const key = byId('key-input').value.trim();
  if (!key) return '';
  if (!KEY_SHAPE.test(key)) return 'An API key is printable ASCII without spaces.';
  write(KEY_NAME, key);
  return null;
}

/** The typed key id and secret stored, or why not. The secret is taken as typed, not trimmed. */
function takeSigningKey() {
  const keyId = byId('key-id-input').value.trim();
  const secret = byId('key-input').value;
  if (!keyId && !secret) return '';
  if (!keyId || !secret) return 'Give both the key id and its secret.';
  if (!KEY_ID.test(keyId)) return 'A key id is up to 64 letters, digits and . _ : - (as in the keys file).';
  const bytes = secretBytes(secret).length;
  if (bytes < MIN_SECRET_BYTES) return `A signing secret is at least ${MIN_SECRET_BYTES} bytes; this one is ${bytes}.`;
  if (!canSign()) return 'This browser can sign only on a secure page: open it over https, or at localhost or 127.0.0.1.';
  write(SIGNING_NAME, JSON.stringify({ keyId, secret }));
  return null;
}

export function initKeyPrompt() {
  const form = byId('key-prompt');
  for (const radio of form.querySelectorAll('input[name="key-mode"]')) {
    radio.addEventListener('change', () => {
      showMode({ bearer: true, signature: true }, radio.value);
      setText(byId('key-error'), '');
    });
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const problem = mode === 'signature' ? takeSigningKey() : takeApiKey();
    if (problem === '') return;
    if (problem !== null) {
      setText(byId('key-error'), problem);
      return;
    }
    // One way at a time: what was just typed replaces the other.
    remove(mode === 'signature' ? KEY_NAME : SIGNING_NAME);
    byId('key-input').value = '';
    byId('key-id-input').value = '';
    setText(byId('key-error'), '');
    form.hidden = true;
    waiting = null;
    form.dispatchEvent(new Event('rp-key'));
  });
}
