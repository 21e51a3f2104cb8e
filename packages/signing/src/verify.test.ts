import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidSignatureError } from '@restpipe/errors';
import { hmacSha256 } from './hmac.js';
import { signRequest, type SignableRequest, type SignOptions } from './sign.js';
import { checkSignedBody, hasSignature, nonceKeyOf, verifySignature, type HeaderValues } from './verify.js';

const KEY = 'a-shared-secret-of-at-least-32-bytes!';
const KEYS = new Map([['ops-1', Buffer.from(KEY)], ['ops-2', Buffer.from('the-second-key-during-a-rotation-000')]]);
const NOW = 1_800_000_000;

interface Signed {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

function signed(request: Partial<SignableRequest> = {}, options: Partial<SignOptions> = {}): Signed {
  const method = request.method ?? 'POST';
  const url = String(request.url ?? '/server/sum?x=1');
  const body = request.body === undefined ? Buffer.from('[1,2,3]') : request.body === null ? undefined : Buffer.from(request.body as string);
  const headers = signRequest({ method, url, body }, { keyId: 'ops-1', key: KEY, created: NOW, nonce: 'n-0001', ...options });
  return { method, url, headers: { ...headers }, body };
}

function verify(request: Signed, at = NOW): ReturnType<typeof verifySignature> {
  return verifySignature({ method: request.method, url: request.url, headers: request.headers }, KEYS, at);
}

function failure(run: () => unknown): InvalidSignatureError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidSignatureError);
    return error as InvalidSignatureError;
  }
  throw new Error('expected InvalidSignatureError');
}

describe('signRequest', () => {
  it('covers @method @path @query and content-digest, with created, keyid, nonce and alg', () => {
    const { headers } = signed();
    expect(headers['signature-input']).toBe('sig1=("@method" "@path" "@query" "content-digest");created=1800000000;keyid="ops-1";nonce="n-0001";alg="hmac-sha256"');
    expect(headers['content-digest']).toBe('sha-256=:phXuruId5Red4IDejDBSyNqQEThAa6ccOMAyhF99VPQ=:');
    expect(headers['signature']).toMatch(/^sig1=:[A-Za-z0-9+/]{43}=:$/);
  });

  it('makes the MAC of the RFC 9421 signature base under the key', () => {
    const { headers } = signed();
    const base = [
      '"@method": POST',
      '"@path": /server/sum',
      '"@query": ?x=1',
      `"content-digest": ${headers['content-digest']}`,
      `"@signature-params": ${headers['signature-input']!.slice('sig1='.length)}`,
    ].join('\n');
    expect(headers['signature']).toBe(`sig1=:${hmacSha256(KEY, base).toString('base64')}:`);
  });

  it('adds no content-digest without a body or with an empty one', () => {
    for (const body of [undefined, null, '', Buffer.alloc(0)]) {
      const headers = signRequest({ method: 'get', url: '/server/time', body }, { keyId: 'ops-1', key: KEY, created: NOW, nonce: 'n' });
      expect(headers['content-digest']).toBeUndefined();
      expect(headers['signature-input']).toMatch(/^sig1=\("@method" "@path" "@query"\);/);
    }
  });

  it('reads a full URL or a path as fetch sends it; a key as a string or its bytes alike', () => {
    const options = { keyId: 'ops-1', key: KEY, created: NOW, nonce: 'n' };
    const full = signRequest({ method: 'GET', url: 'http://127.0.0.1:8001/server/time?a=1#frag' }, { ...options, authority: false });
    const path = signRequest({ method: 'GET', url: '/server/time?a=1' }, { ...options, key: Buffer.from(KEY) });
    const url = signRequest({ method: 'GET', url: new URL('http://h/server/time?a=1') }, { ...options, created: new Date(NOW * 1000), authority: false });
    expect(path).toEqual(full);
    expect(url).toEqual(full);
  });

  it('covers @authority for a full URL unless told not to: good at that host and port alone', () => {
    const options = { keyId: 'ops-1', key: KEY, created: NOW, nonce: 'n' };
    const signed = signRequest({ method: 'GET', url: 'http://127.0.0.1:8001/server/time' }, options);
    expect(signed['signature-input']).toMatch(/^sig1=\("@method" "@path" "@query" "@authority"\);/);
    const at = (host: string) => ({ method: 'GET', url: '/server/time', headers: { ...signed, host } });
    expect(verifySignature(at('127.0.0.1:8001'), KEYS, NOW).keyId).toBe('ops-1');
    expect(() => verifySignature(at('127.0.0.1:8002'), KEYS, NOW)).toThrow(InvalidSignatureError);
    expect(() => signRequest({ method: 'GET', url: '/server/time' }, { ...options, authority: true })).toThrow(/needs a full URL/);
  });

  it('makes a fresh nonce each time unless given one', () => {
    const one = signRequest({ method: 'GET', url: '/server/time' }, { keyId: 'ops-1', key: KEY });
    const two = signRequest({ method: 'GET', url: '/server/time' }, { keyId: 'ops-1', key: KEY });
    const nonceOf = (input: string): string => /;nonce="([^"]+)"/.exec(input)![1]!;
    expect(nonceOf(one['signature-input'])).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(nonceOf(one['signature-input'])).not.toBe(nonceOf(two['signature-input']));
  });

  it.each([
    [{ url: 'not a url' }, {}, /url must be/],
    [{}, { keyId: 'has space' }, /keyId must match/],
    [{}, { keyId: '' }, /keyId must match/],
    [{}, { nonce: 'with"quote' }, /nonce must be/],
    [{}, { nonce: 'x'.repeat(129) }, /nonce must be/],
    [{}, { key: '' }, /key must be/],
    [{}, { created: Number.NaN }, /created must be/],
    [{ body: 42 as unknown as string }, {}, /body must be/],
  ])('refuses bad input %#', (request, options, message) => {
    expect(() => signRequest({ method: 'POST', url: '/server/x', ...request }, { keyId: 'ops-1', key: KEY, ...options })).toThrow(InvalidArgumentError);
    expect(() => signRequest({ method: 'POST', url: '/server/x', ...request }, { keyId: 'ops-1', key: KEY, ...options })).toThrow(message);
  });
});

describe('verifySignature', () => {
  it('accepts what signRequest made, and says who signed it and what is left to check', () => {
    const request = signed();
    const verified = verify(request);
    expect(verified).toEqual({ keyId: 'ops-1', nonce: 'n-0001', created: NOW, coversDigest: true });
    expect(() => checkSignedBody(verified, request.headers, request.body)).not.toThrow();
    expect(nonceKeyOf(verified)).toBe('ops-1 n-0001');
  });

  it('accepts every key of the set: two at once is a rotation', () => {
    const second = signed({}, { keyId: 'ops-2', key: 'the-second-key-during-a-rotation-000' });
    expect(verify(second).keyId).toBe('ops-2');
  });

  it('accepts created up to 300 s either way, and no further', () => {
    expect(verify(signed(), NOW + 300).keyId).toBe('ops-1');
    expect(verify(signed(), NOW - 300).keyId).toBe('ops-1');
    expect(failure(() => verify(signed(), NOW + 301)).message).toBe('created is 301 s away from now (behind); at most 300 s is accepted');
    expect(failure(() => verify(signed(), NOW - 412)).message).toBe('created is 412 s away from now (ahead); at most 300 s is accepted');
  });

  it('refuses a signature made with another key under a known key id, without saying the expected MAC', () => {
    const forged = signed({}, { key: 'not-the-key-at-all-but-long-enough-000' });
    const expected = signed().headers['signature']!.slice('sig1=:'.length, -1);
    const error = failure(() => verify(forged));
    expect(error.message).toMatch(/does not match the request under key id "ops-1"/);
    expect(error.message).not.toContain(expected);
    expect(error.message).not.toContain(Buffer.from(expected, 'base64').toString('hex'));
  });

  it.each([
    ['the method', (r: Signed) => ({ ...r, method: 'PUT' })],
    ['the path', (r: Signed) => ({ ...r, url: '/server/other?x=1' })],
    ['the query', (r: Signed) => ({ ...r, url: '/server/sum?x=2' })],
    ['the Content-Digest', (r: Signed) => ({ ...r, headers: { ...r.headers, 'content-digest': 'sha-256=:AAAA:' } })],
  ])('refuses a request whose %s changed after signing', (_what, change) => {
    expect(failure(() => verify(change(signed()))).message).toMatch(/does not match the request/);
  });

  it('refuses a body changed after signing, and a body the signature does not cover', () => {
    const request = signed();
    const verified = verify(request);
    expect(failure(() => checkSignedBody(verified, request.headers, Buffer.from('[1,2,4]'))).message).toMatch(/body does not match its Content-Digest/);
    expect(failure(() => checkSignedBody(verified, request.headers, undefined)).message).toMatch(/body does not match/);
    const bodiless = signed({ method: 'GET', url: '/server/time', body: null });
    const noDigest = verify(bodiless);
    expect(noDigest.coversDigest).toBe(false);
    expect(() => checkSignedBody(noDigest, bodiless.headers, undefined)).not.toThrow();
    expect(() => checkSignedBody(noDigest, bodiless.headers, Buffer.alloc(0))).not.toThrow();
    expect(failure(() => checkSignedBody(noDigest, bodiless.headers, Buffer.from('x'))).message).toBe('the request has a body, but its signature does not cover content-digest');
  });

  it('takes a field given as several lines, joined', () => {
    const request = signed();
    const headers: HeaderValues = { ...request.headers, 'content-digest': [request.headers['content-digest']!] };
    const verified = verifySignature({ method: request.method, url: request.url, headers }, KEYS, NOW);
    expect(() => checkSignedBody(verified, headers, request.body)).not.toThrow();
  });

  const input = (rest: string): Signed => {
    const request = signed();
    return { ...request, headers: { ...request.headers, 'signature-input': rest } };
  };

  it.each([
    ['no headers at all', { 'signature-input': undefined, signature: undefined }, /needs an RFC 9421 signature/],
    ['Signature alone', { 'signature-input': undefined }, /Signature but no Signature-Input/],
    ['Signature-Input alone', { signature: undefined }, /Signature-Input but no Signature/],
    ['a malformed Signature-Input', { 'signature-input': 'sig1=("@method"' }, /Signature-Input is not a structured field dictionary/],
    ['a malformed Signature', { signature: 'sig1=:abc' }, /Signature is not a structured field dictionary/],
    ['a Signature under another label', { signature: 'sig2=:AAAA:' }, /no sig1 member/],
    ['a Signature that is not bytes', { signature: 'sig1="abc"' }, /not a byte sequence/],
    ['a MAC of the wrong length', { signature: 'sig1=:AAAA:' }, /32 bytes; this one is 3/],
  ])('refuses %s', (_what, change, message) => {
    const request = signed();
    const headers = { ...request.headers, ...change } as Record<string, string>;
    for (const [name, value] of Object.entries(headers)) if (value === undefined) delete headers[name];
    expect(failure(() => verify({ ...request, headers })).message).toMatch(message);
  });

  it.each([
    ['an unknown key id', 'sig1=("@method" "@path" "@query" "content-digest");created=1800000000;keyid="nobody";nonce="n";alg="hmac-sha256"', 'unknown key id "nobody"'],
    ['an unknown key id that is no key id', 'sig1=("@method");keyid="no body"', 'unknown key id'],
    ['no keyid', 'sig1=("@method" "@path" "@query");created=1800000000;nonce="n";alg="hmac-sha256"', /names no keyid/],
    ['a keyid token', 'sig1=("@method");keyid=ops-1', /names no keyid/],
    ['a member that is not an inner list', 'sig1="ops-1"', /names no keyid/],
    ['no alg', 'sig1=("@method" "@path" "@query");created=1800000000;keyid="ops-1";nonce="n"', 'alg must be "hmac-sha256"; the signature has none'],
    ['another alg', 'sig1=("@method" "@path" "@query");created=1800000000;keyid="ops-1";nonce="n";alg="ed25519"', 'alg must be "hmac-sha256"'],
    ['no created', 'sig1=("@method" "@path" "@query");keyid="ops-1";nonce="n";alg="hmac-sha256"', /no created time/],
    ['a decimal created', 'sig1=("@method" "@path" "@query");created=1800000000.5;keyid="ops-1";nonce="n";alg="hmac-sha256"', /created must be an integer/],
    ['a past expires', 'sig1=("@method" "@path" "@query");created=1800000000;expires=1799999990;keyid="ops-1";nonce="n";alg="hmac-sha256"', 'the signature expired 10 s ago'],
    ['a string expires', 'sig1=("@method" "@path" "@query");created=1800000000;expires="x";keyid="ops-1";nonce="n";alg="hmac-sha256"', /expires must be an integer/],
    ['no nonce', 'sig1=("@method" "@path" "@query");created=1800000000;keyid="ops-1";alg="hmac-sha256"', 'the signature has no nonce'],
    ['an empty nonce', 'sig1=("@method" "@path" "@query");created=1800000000;keyid="ops-1";nonce="";alg="hmac-sha256"', /nonce must be/],
    ['a nonce with spaces', 'sig1=("@method" "@path" "@query");created=1800000000;keyid="ops-1";nonce="a b";alg="hmac-sha256"', /nonce must be/],
    ['a long nonce', `sig1=("@method" "@path" "@query");created=1800000000;keyid="ops-1";nonce="${'n'.repeat(129)}";alg="hmac-sha256"`, /nonce must be/],
    ['a nonce that is a number', 'sig1=("@method" "@path" "@query");created=1800000000;keyid="ops-1";nonce=7;alg="hmac-sha256"', /nonce must be/],
    ['@query not covered', 'sig1=("@method" "@path");created=1800000000;keyid="ops-1";nonce="n";alg="hmac-sha256"', 'the signature must cover "@query"'],
    ['nothing covered', 'sig1=();created=1800000000;keyid="ops-1";nonce="n";alg="hmac-sha256"', 'the signature must cover "@method" "@path" "@query"'],
    ['a component twice', 'sig1=("@method" "@path" "@query" "@path");created=1800000000;keyid="ops-1";nonce="n";alg="hmac-sha256"', 'component "@path" is covered twice'],
    ['a component parameter', 'sig1=("@method" "@path" "@query" "content-digest";sf);created=1800000000;keyid="ops-1";nonce="n";alg="hmac-sha256"', /component parameters are not supported/],
    ['an unsupported derived component', 'sig1=("@method" "@path" "@query" "@target-uri");created=1800000000;keyid="ops-1";nonce="n";alg="hmac-sha256"', 'component "@target-uri" is not supported here'],
    ['@signature-params covered', 'sig1=("@method" "@path" "@query" "@signature-params");created=1800000000;keyid="ops-1";nonce="n";alg="hmac-sha256"', /not supported here/],
    ['an upper-case field name', 'sig1=("@method" "@path" "@query" "Content-Digest");created=1800000000;keyid="ops-1";nonce="n";alg="hmac-sha256"', /not supported here/],
    ['a component that is a number', 'sig1=(1 "@path" "@query");created=1800000000;keyid="ops-1";nonce="n";alg="hmac-sha256"', /must be a string/],
    ['too many components', `sig1=("@method" "@path" "@query" ${Array.from({ length: 30 }, (_, i) => `"x-${i}"`).join(' ')});created=1800000000;keyid="ops-1";nonce="n";alg="hmac-sha256"`, 'a signature may cover at most 32 components'],
    ['a covered field the request lacks', 'sig1=("@method" "@path" "@query" "x-missing");created=1800000000;keyid="ops-1";nonce="n";alg="hmac-sha256"', 'the signature covers x-missing, but the request has no such header'],
    ['a covered @authority without Host', 'sig1=("@method" "@path" "@query" "@authority");created=1800000000;keyid="ops-1";nonce="n";alg="hmac-sha256"', /covers @authority, but the request has no Host/],
  ])('refuses %s', (_what, header, message) => {
    const error = failure(() => verify(input(header)));
    if (typeof message === 'string') expect(error.message).toBe(message);
    else expect(error.message).toMatch(message);
  });

  it('verifies the member made with one of its keys when another signature comes first', () => {
    const request = signed();
    const proxy = 'proxy=("@method");created=1800000000;keyid="someone-else"';
    const headers = { ...request.headers, 'signature-input': `${proxy}, ${request.headers['signature-input']}`, signature: `proxy=:AAAA:, ${request.headers['signature']}` };
    expect(verify({ ...request, headers }).keyId).toBe('ops-1');
  });

  it('covers extra fields and @authority when the signer chose to', () => {
    const request = { method: 'GET', url: '/server/time', headers: { host: 'Gateway.Local:8001', 'x-tenant': ' blue ' } as Record<string, string> };
    const params = '("@method" "@path" "@query" "@authority" "x-tenant");created=1800000000;keyid="ops-1";nonce="n-x";alg="hmac-sha256"';
    const base = `"@method": GET\n"@path": /server/time\n"@query": ?\n"@authority": gateway.local:8001\n"x-tenant": blue\n"@signature-params": ${params}`;
    request.headers['signature-input'] = `sig1=${params}`;
    request.headers['signature'] = `sig1=:${hmacSha256(KEY, base).toString('base64')}:`;
    expect(verify(request as Signed).keyId).toBe('ops-1');
  });

  it('tells a signed request from an unsigned one', () => {
    expect(hasSignature(signed().headers)).toBe(true);
    expect(hasSignature({ signature: 'x' })).toBe(true);
    expect(hasSignature({ authorization: 'Bearer k' })).toBe(false);
  });
});
