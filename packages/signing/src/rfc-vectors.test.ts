import { describe, expect, it } from 'vitest';
import { isInnerList, parseDictionary, type InnerList } from 'structured-headers';
import { checkContentDigest, contentDigest } from './content-digest.js';
import { hmacSha256 } from './hmac.js';
import { pathAndQuery, signatureBase, signatureParams, type BaseMessage } from './signature-base.js';

/**
 * The examples of RFC 9421 (HTTP Message Signatures) and RFC 9530 (Digest Fields),
 * reproduced exactly: the test request of RFC 9421 Appendix B.2, its signature
 * bases, and the one deterministic signature there, B.2.5's hmac-sha256.
 */

/** RFC 9421 B.1.5 "test-shared-secret": 64 bytes, Base64. */
const TEST_SHARED_SECRET = Buffer.from('uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==', 'base64');

/** The test request of RFC 9421 Appendix B.2. */
const B2_HEADERS: Record<string, string> = {
  host: 'example.com',
  date: 'Tue, 20 Apr 2021 02:07:55 GMT',
  'content-type': 'application/json',
  'content-digest': 'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
  'content-length': '18',
};
const B2_BODY = Buffer.from('{"hello": "world"}');
const B2_REQUEST: BaseMessage = { method: 'POST', target: '/foo?param=Value&Pet=dog', header: (name) => B2_HEADERS[name] };

/** A Signature-Input member, parsed, as the verifier reads it: its components and the re-serialized params. */
function member(signatureInput: string, label: string): { components: string[]; params: string } {
  const value = parseDictionary(signatureInput).get(label);
  if (value === undefined || !isInnerList(value)) throw new Error(`no inner list ${label}`);
  const list = value as InnerList;
  const components = list[0].map(([name]) => name as string);
  return { components, params: signatureParams(components, list[1]) };
}

describe('RFC 9421 Appendix B.2', () => {
  it('B.2.5: the hmac-sha256 signature base and signature, byte for byte', () => {
    const input = 'sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"';
    const { components, params } = member(input, 'sig-b25');
    const base = signatureBase(components, params, B2_REQUEST);
    expect(base).toBe([
      '"date": Tue, 20 Apr 2021 02:07:55 GMT',
      '"@authority": example.com',
      '"content-type": application/json',
      '"@signature-params": ("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
    ].join('\n'));
    expect(hmacSha256(TEST_SHARED_SECRET, base).toString('base64')).toBe('pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=');
    // And the Signature field as the RFC shows it.
    const signature = parseDictionary('sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:').get('sig-b25')!;
    expect(Buffer.from(signature[0] as ArrayBuffer).equals(hmacSha256(TEST_SHARED_SECRET, base))).toBe(true);
  });

  it('B.2.3: the full-coverage signature base derives @method, @path and @query', () => {
    const input = 'sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"';
    const { components, params } = member(input, 'sig-b23');
    expect(signatureBase(components, params, B2_REQUEST)).toBe([
      '"date": Tue, 20 Apr 2021 02:07:55 GMT',
      '"@method": POST',
      '"@path": /foo',
      '"@query": ?param=Value&Pet=dog',
      '"@authority": example.com',
      '"content-type": application/json',
      '"content-digest": sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
      '"content-length": 18',
      '"@signature-params": ("date" "@method" "@path" "@query" "@authority" "content-type" "content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"',
    ].join('\n'));
  });

  it('B.2.1: a nonce parameter, and no components, re-serialize as signed', () => {
    const input = 'sig-b21=();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"';
    const { components, params } = member(input, 'sig-b21');
    expect(signatureBase(components, params, B2_REQUEST)).toBe('"@signature-params": ();created=1618884473;keyid="test-key-rsa-pss";nonce="b3k2pp5k7z-50gnwp.yemd"');
  });
});

describe('RFC 9421 §2.2.6 @path and §2.2.7 @query', () => {
  it.each([
    ['/path?param=value', '/path', '?param=value'],
    ['/path?param=value&foo=bar&baz=batman', '/path', '?param=value&foo=bar&baz=batman'],
    ['/path?queryString', '/path', '?queryString'],
    ['/path', '/path', '?'],
    ['/path?', '/path', '?'],
    ['', '/', '?'],
    ['?a=1', '/', '?a=1'],
    ['http://www.example.com/path?param=value', '/path', '?param=value'],
    ['https://example.com', '/', '?'],
    ['/cat//hello%20/world?x=%2e', '/cat//hello%20/world', '?x=%2e'],
  ])('%s has @path %s and @query %s', (target, path, query) => {
    expect(pathAndQuery(target)).toEqual({ path, query });
  });
});

describe('RFC 9530 Content-Digest', () => {
  // RFC 9530's examples digest {"hello": "world"} followed by a line feed (Content-Length: 19).
  const withNewline = Buffer.from('{"hello": "world"}\n');

  it('sha-256 of the RFC 9530 example content', () => {
    expect(contentDigest(withNewline)).toBe('sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:');
  });

  it('sha-256 of the RFC 9421 B.2 test request content', () => {
    expect(contentDigest(B2_BODY)).toBe('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:');
  });

  it('accepts a digest with sha-256, and checks a sha-512 beside it (RFC 9421 B.2 gives that one)', () => {
    const both = `${contentDigest(B2_BODY)}, ${B2_HEADERS['content-digest']}`;
    expect(() => checkContentDigest(both, B2_BODY)).not.toThrow();
    const wrong512 = `${contentDigest(B2_BODY)}, sha-512=:${Buffer.alloc(64).toString('base64')}:`;
    expect(() => checkContentDigest(wrong512, B2_BODY)).toThrow(/does not match its Content-Digest \(sha-512\)/);
  });

  it('ignores members of algorithms it does not know', () => {
    expect(() => checkContentDigest(`${contentDigest(B2_BODY)}, md5=:AAAA:`, B2_BODY)).not.toThrow();
  });

  it.each([
    [undefined, /no Content-Digest header/],
    ['', /no Content-Digest header/],
    [B2_HEADERS['content-digest']!, /no sha-256 member/],
    ['sha-256=abc', /sha-256 is not a byte sequence/],
    ['sha-256=:not base64!:', /not a structured field dictionary/],
    ['sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:', /body does not match/],
  ])('refuses %s', (header, message) => {
    expect(() => checkContentDigest(header, withNewline)).toThrow(message);
  });

  it('never says what the digest should have been', () => {
    const expected = contentDigest(withNewline).slice('sha-256=:'.length, -1);
    let text = '';
    try {
      checkContentDigest(contentDigest(B2_BODY), withNewline);
    } catch (error) {
      text = (error as Error).message;
    }
    expect(text).toMatch(/does not match/);
    expect(text).not.toContain(expected);
  });
});
