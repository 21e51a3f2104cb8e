import { describe, expect, it } from 'vitest';
import { ConfigError } from '@restpipe/core';
import { signRequest } from '@restpipe/signing';
import { createGateway, type GatewayOptions } from './gateway.js';
import { principalOf } from './principal.js';

/** Who the gateway says made each request: what a hold's decidedBy records (SPEC §9). */
function gateway(options: Partial<GatewayOptions>): ReturnType<typeof createGateway> {
  const app = createGateway({
    status: { role: 'client', name: 't', connected: () => true, peers: () => 1, ready: () => true },
    send: () => Promise.reject(new Error('unused')),
    maxEventBytes: 4096,
    timeoutMs: 1000,
    exposeTracebacks: false,
    ...options,
  });
  app.post('/_rp/whoami', async (request) => ({ principal: principalOf(request) }));
  return app;
}

const SECRET = 'principal-test-secret-0123456789abcdef';
const keys = new Map([['ops-7', Buffer.from(SECRET)]]);

describe('the principal of a request', () => {
  it('is the key id of a verified signature', async () => {
    const app = gateway({ signingKeys: keys, apiKey: 'bearer-key' });
    const body = '{"reason":"ok"}';
    const headers = signRequest({ method: 'POST', url: '/_rp/whoami', body }, { keyId: 'ops-7', key: SECRET });
    const answer = await app.inject({ method: 'POST', url: '/_rp/whoami', headers: { ...headers, 'content-type': 'application/json' }, payload: body });
    expect(answer.json()).toEqual({ principal: 'ops-7' });
  });

  it('is api-key for a matching bearer key', async () => {
    const app = gateway({ signingKeys: keys, apiKey: 'bearer-key' });
    const answer = await app.inject({ method: 'POST', url: '/_rp/whoami', headers: { authorization: 'Bearer bearer-key' } });
    expect(answer.json()).toEqual({ principal: 'api-key' });
  });

  it('is local on a gateway that asks for nothing', async () => {
    const answer = await gateway({}).inject({ method: 'POST', url: '/_rp/whoami' });
    expect(answer.json()).toEqual({ principal: 'local' });
  });

  it('is never set for a refused request: the route does not run', async () => {
    const app = gateway({ signingKeys: keys });
    const body = '{"reason":"ok"}';
    const headers = signRequest({ method: 'POST', url: '/_rp/whoami', body }, { keyId: 'ops-7', key: SECRET });
    const answer = await app.inject({ method: 'POST', url: '/_rp/whoami', headers: { ...headers }, payload: '{"reason":"changed"}' });
    expect(answer.statusCode).toBe(401);
    expect(answer.json().exception.code).toBe('RP_ERR_INVALID_SIGNATURE');
  });
});

describe('a signed body a route parsed itself', () => {
  const body = '{"reason":"ok"}';
  const signedFor = (type: string) => ({ ...signRequest({ method: 'POST', url: '/_rp/whoami', body }, { keyId: 'ops-7', key: SECRET }), 'content-type': type });

  it('is checked as its text when the parser gave a string', async () => {
    const app = gateway({ signingKeys: keys });
    app.addContentTypeParser('text/x-as-string', { parseAs: 'string' }, (_request, text, done) => done(null, text));
    const answer = await app.inject({ method: 'POST', url: '/_rp/whoami', headers: signedFor('text/x-as-string'), payload: body });
    expect(answer.json()).toEqual({ principal: 'ops-7' });
  });

  it('is refused when the parser kept no bytes to check the digest against', async () => {
    const app = gateway({ signingKeys: keys });
    app.addContentTypeParser('text/x-as-object', { parseAs: 'string' }, (_request, text, done) => done(null, { text }));
    const answer = await app.inject({ method: 'POST', url: '/_rp/whoami', headers: signedFor('text/x-as-object'), payload: body });
    expect(answer.statusCode).toBe(401);
    expect(answer.json().exception.message).toBe('this route parses its body, so its Content-Digest cannot be checked');
  });
});

describe('signing keys a gateway refuses', () => {
  it.each([['local'], ['api-key']])('the reserved key id %s', (id) => {
    expect(() => gateway({ signingKeys: new Map([[id, Buffer.from(SECRET)]]) })).toThrow(ConfigError);
  });

  it('an empty set', () => {
    expect(() => gateway({ signingKeys: new Map() })).toThrow(/signingKeys is empty/);
  });
});
