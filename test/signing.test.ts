/**
 * SPEC §10 signed gateway requests, through real rp-server and rp-client processes
 * started with `--signing-keys-file`: what gets in, what is refused and how, and what
 * the refusals never say.
 */
import { createHash } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest, type SignOptions } from 'restpipe';
import { call, type HttpAnswer } from './helpers/http.js';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { waitFor } from './helpers/wait.js';
import { holdArgs, holdEnv, settledJob } from './holds-helpers.js';

const KEYS = { 'ops-2026': 'first-secret-of-the-rotation-0123456789', 'ops-2027': 'second-secret-of-the-rotation-987654321' };
const OPS: SignOptions = { keyId: 'ops-2026', key: KEYS['ops-2026'] };
const API_KEY = 'api-key-for-the-signing-test-5d1c';

let certs: CertDir;
let keysFile: string;
let clientStartedAt = 0;
let server: NodeProcess;
let client: NodeProcess;

function secretFile(name: string, text: string, mode = 0o600): string {
  const file = join(certs.dir, name);
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

/** A signed call: signs method, URL and body as fetch will send them, then sends them. */
async function signedCall(base: string, path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}, options: Partial<SignOptions> = {}): Promise<HttpAnswer> {
  const method = init.method ?? 'GET';
  const headers = { ...init.headers, ...signRequest({ method, url: `${base}${path}`, body: init.body }, { ...OPS, ...options }) };
  return call(`${base}${path}`, { method, headers, body: init.body });
}

function exceptionOf(answer: HttpAnswer): { class: string; code: string; message: string } {
  return answer.json().exception;
}

beforeAll(async () => {
  certs = new CertDir(['node-a']);
  keysFile = secretFile('signing-keys.json', `${JSON.stringify(KEYS)}\n`);
  const apiKeyFile = secretFile('api.key', `${API_KEY}\n`);
  const pipePort = await freePort();
  // The server takes a bearer key or a signature; the client only signatures.
  server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, '--signing-keys-file', keysFile, '--api-key-file', apiKeyFile]);
  clientStartedAt = Date.now();
  client = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', '--signing-keys-file', keysFile]);
  await waitFor(async () => (await signedCall(client.gateway, '/_rp/ready')).status === 200, 'the pipe to be up');
});

afterAll(async () => {
  await Promise.all([client?.stop(), server?.stop()]);
});

describe('signed requests reach the handler', () => {
  it('a signed GET, through the pipe to the server\'s handler', async () => {
    const answer = await signedCall(client.gateway, '/server/cat//signed%20/get?x=1');
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual({ result_from_server: 'signed get' });
  });

  it('a signed POST with a body, which arrives unchanged', async () => {
    const body = JSON.stringify({ hello: 'world', n: [1, 2, 3] });
    const answer = await signedCall(client.gateway, '/server/echo', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe(body);
  });

  it('a signed PUT and DELETE; a signed POST with an empty body needs no Content-Digest', async () => {
    expect((await signedCall(client.gateway, '/server/echo', { method: 'PUT', body: '[7]', headers: { 'content-type': 'application/json' } })).json()).toEqual({ put: [7] });
    expect((await signedCall(client.gateway, '/server/thing//42', { method: 'DELETE' })).json()).toEqual({ deleted: '42' });
    const empty = signRequest({ method: 'POST', url: '/server/echo', body: '' }, OPS);
    expect(empty['content-digest']).toBeUndefined();
    expect((await call(`${client.gateway}/server/echo`, { method: 'POST', headers: { ...empty }, body: '' })).status).toBe(200);
  });

  it('rotation: either key of the file is accepted, at once', async () => {
    const first = await signedCall(client.gateway, '/server/time');
    const second = await signedCall(client.gateway, '/server/time', {}, { keyId: 'ops-2027', key: KEYS['ops-2027'] });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.json()).toHaveProperty('time_from_server');
  });

  it('the other way too: the server\'s gateway takes a signature for /client/NAME/...', async () => {
    const answer = await signedCall(server.gateway, '/client/node-a/time');
    expect(answer.status).toBe(200);
    expect(answer.json()).toHaveProperty('time_from_client');
  });

  it('/_rp/health needs nothing; every other route needs a signature', async () => {
    expect((await call(`${client.gateway}/_rp/health`)).status).toBe(200);
    for (const path of ['/_rp/ready', '/_rp/jobs', '/server/time', '/nowhere']) {
      const answer = await call(`${client.gateway}${path}`);
      expect(answer.status).toBe(401);
      expect(exceptionOf(answer)).toMatchObject({ class: 'InvalidSignatureError', code: 'RP_ERR_INVALID_SIGNATURE' });
    }
  });
});

describe('refusals', () => {
  it('an unsigned request is 401 InvalidSignatureError, with an Accept-Signature hint', async () => {
    const answer = await call(`${client.gateway}/server/time`);
    expect(answer.status).toBe(401);
    expect(exceptionOf(answer).message).toMatch(/needs an RFC 9421 signature/);
    expect(answer.headers.get('accept-signature')).toBe('sig1=("@method" "@path" "@query");created;nonce;alg="hmac-sha256"');
  });

  it('a bearer key is no use where only signatures are taken', async () => {
    const answer = await call(`${client.gateway}/server/time`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(answer.status).toBe(401);
    expect(exceptionOf(answer).class).toBe('InvalidSignatureError');
  });

  it('a replay is 401 ReplayedRequestError, and the handler ran once', async () => {
    const body = JSON.stringify({ tag: 'replay-me' });
    const headers = { 'content-type': 'application/json', ...signRequest({ method: 'POST', url: `${client.gateway}/server/json`, body }, OPS) };
    const first = await call(`${client.gateway}/server/json`, { method: 'POST', headers, body });
    const again = await call(`${client.gateway}/server/json`, { method: 'POST', headers, body });
    expect(first.status).toBe(200);
    expect(again.status).toBe(401);
    expect(exceptionOf(again)).toMatchObject({ class: 'ReplayedRequestError', code: 'RP_ERR_REPLAYED_REQUEST' });
  });

  it('of two requests sent at once with one nonce, exactly one gets in', async () => {
    const headers = signRequest({ method: 'GET', url: `${client.gateway}/server/time` }, OPS);
    const answers = await Promise.all([1, 2, 3].map(() => call(`${client.gateway}/server/time`, { headers: { ...headers } })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 401, 401]);
  });

  it('a body changed after signing is 401 InvalidSignatureError, naming no digest', async () => {
    const headers = { 'content-type': 'application/json', ...signRequest({ method: 'POST', url: `${client.gateway}/server/echo`, body: '{"amount":10}' }, OPS) };
    const altered = '{"amount":99}';
    const answer = await call(`${client.gateway}/server/echo`, { method: 'POST', headers, body: altered });
    expect(answer.status).toBe(401);
    expect(exceptionOf(answer)).toMatchObject({ class: 'InvalidSignatureError', message: expect.stringMatching(/body does not match its Content-Digest/) });
    expect(answer.text).not.toContain(createHash('sha256').update(altered).digest('base64'));
    expect(answer.text).not.toContain(headers['content-digest']!.slice(9, -1));
  });

  it('a refused body leaves its nonce unused: the same signature with the right body then gets in', async () => {
    const body = '{"amount":10}';
    const headers = { 'content-type': 'application/json', ...signRequest({ method: 'POST', url: `${client.gateway}/server/echo`, body }, OPS) };
    expect((await call(`${client.gateway}/server/echo`, { method: 'POST', headers, body: '{"amount":11}' })).status).toBe(401);
    expect((await call(`${client.gateway}/server/echo`, { method: 'POST', headers, body })).status).toBe(200);
  });

  it('a body added to a signature that covers none is refused', async () => {
    const headers = signRequest({ method: 'POST', url: `${client.gateway}/server/echo` }, OPS);
    const answer = await call(`${client.gateway}/server/echo`, { method: 'POST', headers: { ...headers, 'content-type': 'text/plain' }, body: 'smuggled' });
    expect(answer.status).toBe(401);
    expect(exceptionOf(answer).message).toBe('the request has a body, but its signature does not cover content-digest');
  });

  it('a path or query changed after signing is refused', async () => {
    const headers = signRequest({ method: 'GET', url: `${client.gateway}/server/cat//a/b?x=1` }, OPS);
    for (const path of ['/server/cat//a/c?x=1', '/server/cat//a/b?x=2', '/server/cat//a/b']) {
      const answer = await call(`${client.gateway}${path}`, { headers: { ...headers } });
      expect(answer.status).toBe(401);
      expect(exceptionOf(answer).message).toMatch(/does not match the request under key id "ops-2026"/);
    }
  });

  it.each([['past', -301], ['future', 301]])('created 301 s in the %s is 401', async (_when, skew) => {
    const answer = await signedCall(client.gateway, '/server/time', {}, { created: Math.floor(Date.now() / 1000) + skew });
    expect(answer.status).toBe(401);
    expect(exceptionOf(answer)).toMatchObject({ class: 'InvalidSignatureError', message: expect.stringMatching(/^created is 30[12] s away from now .*at most 300 s is accepted$/) });
  });

  it('created 250 s off either way is still accepted: with a data directory the nonces of an earlier run are on disk', async () => {
    for (const skew of [-250, 250]) {
      expect((await signedCall(client.gateway, '/server/time', {}, { created: Math.floor(Date.now() / 1000) + skew })).status).toBe(200);
    }
  });

  it('created 2 s ago, after the gateway started, is accepted', async () => {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, clientStartedAt + 4_000 - Date.now())));
    const answer = await signedCall(client.gateway, '/server/time', {}, { created: Math.floor(Date.now() / 1000) - 2 });
    expect(answer.status, answer.text).toBe(200);
  });

  it('an unknown key id is 401', async () => {
    const answer = await signedCall(client.gateway, '/server/time', {}, { keyId: 'ops-2019', key: 'an-old-secret-nobody-holds-anymore-0000' });
    expect(answer.status).toBe(401);
    expect(exceptionOf(answer)).toMatchObject({ class: 'InvalidSignatureError', message: 'unknown key id "ops-2019"' });
  });

  it('a wrong secret under a known key id is 401, and the answer never holds the expected signature', async () => {
    const created = Math.floor(Date.now() / 1000);
    const nonce = `wrong-key-${created}`;
    const url = `${client.gateway}/server/time?probe=1`;
    const forged = signRequest({ method: 'GET', url }, { ...OPS, key: 'a-guess-at-the-secret-that-is-wrong-0000', created, nonce });
    const answer = await call(url, { headers: { ...forged } });
    expect(answer.status).toBe(401);
    // What the gateway computed: the right key over the same request.
    const right = signRequest({ method: 'GET', url }, { ...OPS, created, nonce })['signature'].slice('sig1=:'.length, -1);
    const mac = Buffer.from(right, 'base64');
    for (const form of [right, mac.toString('hex'), mac.toString('base64url')]) {
      expect(answer.text).not.toContain(form);
      expect(JSON.stringify([...answer.headers])).not.toContain(form);
    }
    expect(exceptionOf(answer).message).toMatch(/^the signature does not match the request/);
    // And the right signature gets in, its nonce unused by the refusal.
    expect((await call(url, { headers: { ...signRequest({ method: 'GET', url }, { ...OPS, created, nonce }) } })).status).toBe(200);
  });

  it('garbage in the signature headers is a 401, never a crash', async () => {
    const garbage: Array<Record<string, string>> = [
      { 'signature-input': 'sig1=(', signature: 'sig1=:AAAA:' },
      { 'signature-input': 'sig1=("@method" "@path" "@query");keyid="ops-2026";created=1;nonce="n";alg="hmac-sha256"', signature: '?' },
      { 'signature-input': `sig1=(${'"x" '.repeat(1000)})`, signature: 'sig1=:AAAA:' },
      { signature: 'sig1=:AAAA:' },
    ];
    for (const headers of garbage) {
      const answer = await call(`${client.gateway}/server/time`, { headers });
      expect(answer.status).toBe(401);
      expect(exceptionOf(answer).class).toBe('InvalidSignatureError');
    }
    expect((await call(`${client.gateway}/_rp/health`)).status).toBe(200);
  });
});

describe('with --api-key-file too, either one is enough', () => {
  it('a bearer key alone, or a signature alone, gets in', async () => {
    expect((await call(`${server.gateway}/_rp/clients`, { headers: { authorization: `Bearer ${API_KEY}` } })).status).toBe(200);
    expect((await signedCall(server.gateway, '/_rp/clients')).status).toBe(200);
  });

  it('neither is 401 UnauthorizedError with both hints; a bad signature is still InvalidSignatureError', async () => {
    const none = await call(`${server.gateway}/_rp/clients`);
    expect(none.status).toBe(401);
    expect(exceptionOf(none)).toMatchObject({ class: 'UnauthorizedError', message: 'missing or wrong API key, and no RFC 9421 signature' });
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(none.headers.get('accept-signature')).toMatch(/alg="hmac-sha256"/);
    const badSignature = await signedCall(server.gateway, '/_rp/clients', {}, { key: 'not-the-right-secret-for-ops-2026-00000' });
    expect(exceptionOf(badSignature).class).toBe('InvalidSignatureError');
    const wrongBearer = await call(`${server.gateway}/_rp/clients`, { headers: { authorization: 'Bearer nope' } });
    expect(exceptionOf(wrongBearer).class).toBe('UnauthorizedError');
  });
});

describe('the nonce store', () => {
  let small: NodeProcess;

  beforeAll(async () => {
    small = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${await freePort()}`, '--signing-keys-file', keysFile, '--max-nonces', '4', '--data-dir', 'off']);
  });

  afterAll(async () => {
    await small?.stop();
  });

  it('with --data-dir off (nonces in memory alone), a signature created before the gateway started is refused as a possible replay', async () => {
    const before = await signedCall(small.gateway, '/_rp/ready', {}, { created: Math.floor(Date.now() / 1000) - 250 });
    expect(before.status).toBe(401);
    expect(exceptionOf(before)).toMatchObject({ class: 'InvalidSignatureError', message: expect.stringMatching(/^created is \d+ s before this gateway started/) });
  });

  it('a flood of bad signatures stores nothing: the node keeps serving, and its 4 places are all still free', async () => {
    const flood = Array.from({ length: 300 }, (_, i) => {
      const url = `${small.gateway}/_rp/ready`;
      if (i % 3 === 0) return call(url, { headers: { ...signRequest({ method: 'GET', url }, { ...OPS, key: `wrong-secret-number-${i}-padding-padding` }) } });
      if (i % 3 === 1) return call(url, { headers: { ...signRequest({ method: 'GET', url }, { ...OPS, created: Math.floor(Date.now() / 1000) - 900 }) } });
      // A valid MAC whose body does not match its digest: refused after the body, before its nonce is stored.
      const post = `${small.gateway}/_rp/clients`;
      return call(post, { method: 'POST', headers: { ...signRequest({ method: 'POST', url: post, body: 'signed' }, OPS) }, body: 'sent' });
    });
    const statuses = (await Promise.all(flood)).map((a) => a.status);
    expect(statuses.every((s) => s === 401)).toBe(true);
    expect((await call(`${small.gateway}/_rp/health`)).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await signedCall(small.gateway, '/_rp/ready')).status).toBe(200);
    // The fifth live nonce is past the bound: refused, not stored over a live one.
    const full = await signedCall(small.gateway, '/_rp/ready');
    expect(full.status).toBe(503);
    expect(full.headers.get('retry-after')).toBe('1');
    expect(exceptionOf(full)).toMatchObject({ class: 'NonceStoreFullError', code: 'RP_ERR_NONCE_STORE_FULL' });
    expect((await call(`${small.gateway}/_rp/health`)).status).toBe(200);
  });
});

describe('approvals', () => {
  let holder: NodeProcess;
  let sender: NodeProcess;

  beforeAll(async () => {
    const pipePort = await freePort();
    holder = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, '--signing-keys-file', keysFile, ...holdArgs(certs, 'server', 'signed-holder')], holdEnv(certs));
    sender = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', ...holdArgs(certs, 'client', 'signed-sender')]);
    await waitFor(async () => (await call(`${sender.gateway}/_rp/ready`)).status === 200, 'the pipe to be up');
  });

  afterAll(async () => {
    await Promise.all([sender?.stop(), holder?.stop()]);
  });

  it('a hold approved with a signed request records the key id as decidedBy', async () => {
    const held = await call(`${sender.gateway}/server/guarded/run//deploy`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"v":2}' });
    expect(held.status, held.text).toBe(202);
    const { hold, job } = held.json();
    const unsigned = await call(`${holder.gateway}/_rp/holds/${hold}/approve`, { method: 'POST' });
    expect(unsigned.status).toBe(401);
    const body = JSON.stringify({ reason: 'signed off' });
    const approved = await signedCall(holder.gateway, `/_rp/holds/${hold}/approve`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }, { keyId: 'ops-2027', key: KEYS['ops-2027'] });
    expect(approved.status, approved.text).toBe(200);
    expect(approved.json()).toMatchObject({ hold, status: 'approved', decidedBy: 'ops-2027', decisionReason: 'signed off' });
    expect((await settledJob(sender.gateway, job)).status).toBe('succeeded');
    const logLines = (): Array<Record<string, unknown>> => holder.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    await waitFor(() => logLines().some((l) => l['hold'] === hold && l['status'] === 'approved' && l['decidedBy'] === 'ops-2027'), 'the approval log line');
  });
});

describe('the logs', () => {
  it('never hold a signing secret', () => {
    const output = client.output() + server.output();
    expect(output).toContain('"msg":"rp-client ready"');
    for (const secret of Object.values(KEYS)) expect(output).not.toContain(secret);
  });
});
