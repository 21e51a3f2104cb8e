import http from 'node:http';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipeFailError, raiseForException } from 'restpipe';
import { CertDir, freePort, startNode, startPair, type NodeProcess } from './helpers/nodes.js';
import { waitFor } from './helpers/wait.js';

let certs: CertDir;
let server: NodeProcess;
let client: NodeProcess;

beforeAll(async () => {
  certs = new CertDir(['node-a']);
  ({ server, client } = await startPair(certs, ['--connect-wait-ms', '300']));
});

afterAll(async () => {
  await Promise.all([client?.stop(), server?.stop()]);
});

/** A request with the path sent exactly as given: fetch would normalize `..` and `%2e`. */
function rawRequest(base: string, path: string, method = 'GET'): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path: url.pathname.replace(/\/$/, '') + path, method }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function envelope(response: Response): Promise<{ class: string; message: string; code: string; traceback: string }> {
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await response.json()) as { exception: { class: string; message: string; code: string; traceback: string } };
  return body.exception;
}

async function eventCounts(): Promise<number> {
  const clients = (await (await fetch(`${server.gateway}/_rp/clients`)).json()) as Array<{ eventsIn: number; eventsOut: number }>;
  return clients.reduce((sum, c) => sum + c.eventsIn + c.eventsOut, 0);
}

const directions = [
  { label: 'client to server', base: () => `${client.gateway}/server`, far: 'server' },
  { label: 'server to client', base: () => `${server.gateway}/client/node-a`, far: 'client' },
] as const;

describe.each(directions)('the reply table, $label', ({ base, far }) => {
  it('a returned value is 200, return code 0, JSON', async () => {
    const response = await fetch(`${base()}/time`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-event-return-code')).toBe('0');
    expect(response.headers.get('content-type')).toBe('application/json');
    const body = (await response.json()) as Record<string, number>;
    expect(body[`time_from_${far}`]).toBeCloseTo(Date.now() / 1000, -1);
  });

  it('the default-style cat joins the double-slash args', async () => {
    const response = await fetch(`${base()}/cat//hello%20/world`);
    expect(await response.json()).toEqual({ [`result_from_${far}`]: 'hello world' });
  });

  it('undefined is a 200 with an empty body', async () => {
    const response = await fetch(`${base()}/nothing`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-event-return-code')).toBe('0');
    expect(await response.text()).toBe('');
  });

  it('reply(data, {mimeType, code}) is 200 with that code and media type', async () => {
    const response = await fetch(`${base()}/custom`);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-event-return-code')).toBe('7');
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toBe('short and stout');
  });

  it('a thrown error is 500, return code 251, with the class and message and no traceback', async () => {
    const response = await fetch(`${base()}/boom`);
    expect(response.status).toBe(500);
    expect(response.headers.get('x-event-return-code')).toBe('251');
    expect(await envelope(response)).toEqual({ class: 'TypeError', message: `boom on the ${far}`, code: 'RP_ERR_HANDLER', traceback: '' });
  });

  it('authorize returning false is 403, return code 252, ForbiddenError', async () => {
    const response = await fetch(`${base()}/secret`);
    expect(response.status).toBe(403);
    expect(response.headers.get('x-event-return-code')).toBe('252');
    expect(await envelope(response)).toMatchObject({ class: 'ForbiddenError', code: 'RP_ERR_FORBIDDEN' });
  });

  it('no such handler method is 404, return code 255, UnknownHandlerError', async () => {
    const response = await fetch(`${base()}/no_such_thing`);
    expect(response.status).toBe(404);
    expect(response.headers.get('x-event-return-code')).toBe('255');
    expect(await envelope(response)).toMatchObject({ class: 'UnknownHandlerError', code: 'RP_ERR_UNKNOWN_HANDLER' });
  });

  it('invalid JSON is 400 InvalidBodyError, and nothing is sent', async () => {
    const before = await eventCounts();
    const response = await fetch(`${base()}/json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"open": ' });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-event-return-code')).toBeNull();
    expect(await envelope(response)).toMatchObject({ class: 'InvalidBodyError', code: 'RP_ERR_INVALID_BODY' });
    expect(await eventCounts()).toBe(before);
  });

  it('a JSON POST arrives parsed, with its media type stripped of parameters, and the query', async () => {
    const response = await fetch(`${base()}/json?tag=a&tag=b&one=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.thing+json; charset=utf-8' },
      body: JSON.stringify({ n: [1, 2, 3] }),
    });
    expect(await response.json()).toEqual({ got: { n: [1, 2, 3] }, mimeType: 'application/vnd.thing+json', query: { tag: ['a', 'b'], one: '1' } });
  });

  it('args are percent-decoded one by one; a trailing // gives one empty arg', async () => {
    const decoded = (await (await fetch(`${base()}/args//hello%20/world%2Fslash?x=1`)).json()) as { args: string[]; noun: string[] };
    expect(decoded.args).toEqual(['hello ', 'world/slash']);
    expect(decoded.noun).toEqual(['args']);
    const empty = (await (await fetch(`${base()}/args//`)).json()) as { args: string[] };
    expect(empty.args).toEqual(['']);
  });

  it('PUT, PATCH and DELETE map to put_, patch_ and delete_; HEAD is get with no body', async () => {
    const put = await fetch(`${base()}/echo`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'p' });
    expect(await put.json()).toEqual({ put: 'p' });
    const patch = await fetch(`${base()}/echo`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await patch.json()).toEqual({ patch: { a: 1 } });
    const del = await fetch(`${base()}/thing//42`, { method: 'DELETE' });
    expect(await del.json()).toEqual({ deleted: '42' });
    const head = await fetch(`${base()}/time`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('x-event-return-code')).toBe('0');
    expect(await head.text()).toBe('');
  });

  it('other methods are 405 with Allow', async () => {
    const response = await rawRequest(base(), '/time', 'OPTIONS');
    expect(response.status).toBe(405);
    expect(response.headers['allow']).toBe('GET, HEAD, POST, PUT, PATCH, DELETE');
    const propfind = await rawRequest(base(), '/time', 'PROPFIND');
    expect(propfind.status).toBe(405);
  });

  it('a binary body round-trips byte for byte', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 * 1024 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));
    const response = await fetch(`${base()}/echo`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    expect(response.status).toBe(200);
    expect(Buffer.compare(Buffer.from(await response.arrayBuffer()), bytes)).toBe(0);
  });

  it('X-Request-Id is passed to the far side and echoed; one is made when absent', async () => {
    const given = await fetch(`${base()}/whoami`, { headers: { 'x-request-id': 'trace-123' } });
    expect(given.headers.get('x-request-id')).toBe('trace-123');
    expect(((await given.json()) as { requestId: string }).requestId).toBe('trace-123');
    const made = await fetch(`${base()}/whoami`);
    const id = made.headers.get('x-request-id');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(((await made.json()) as { requestId: string }).requestId).toBe(id);
  });

  it('no reply by X-Event-Timeout-Ms is 504 EventTimeoutError, and the far side gets Cancel', async () => {
    const id = `deadline-${far}-${Date.now()}`;
    const response = await fetch(`${base()}/slow`, { headers: { 'x-event-timeout-ms': '300', 'x-request-id': id } });
    expect(response.status).toBe(504);
    expect(await envelope(response)).toMatchObject({ class: 'EventTimeoutError', code: 'RP_ERR_EVENT_TIMEOUT' });
    await waitFor(async () => ((await (await fetch(`${base()}/aborted`)).json()) as string[]).includes(id), 'the far handler to see the abort');
  });

  it('a bad X-Event-Timeout-Ms is 400', async () => {
    const response = await fetch(`${base()}/time`, { headers: { 'x-event-timeout-ms': 'soon' } });
    expect(response.status).toBe(400);
    expect(await envelope(response)).toMatchObject({ code: 'RP_ERR_INVALID_REQUEST' });
  });

  it.each(['/..', '/%2e%2e', '/%2E%2e/time', '/_x', '/', '/time/', '/ti%6De', '/a..b', '/ti%ZZme'])('the bad path %s is 400 InvalidPathError and reaches nobody', async (path) => {
    const before = await eventCounts();
    const response = await rawRequest(base(), path);
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body).exception).toMatchObject({ class: 'InvalidPathError', code: 'RP_ERR_INVALID_PATH' });
    expect(await eventCounts()).toBe(before);
  });

  it('dots after // are arguments, not path: they reach the handler as text', async () => {
    const response = await rawRequest(base(), '/args//../x/..');
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body).args).toEqual(['..', 'x', '..']);
  });

  it('malformed percent-encoding in an argument is 400', async () => {
    const response = await rawRequest(base(), '/args//%E0%A4%A');
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body).exception).toMatchObject({ code: 'RP_ERR_INVALID_PATH' });
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', 'authorize', 'init'])('%s is never dispatched: 404 UnknownHandlerError', async (noun) => {
    const response = await fetch(`${base()}/${noun}`);
    expect(response.status).toBe(404);
    expect(await envelope(response)).toMatchObject({ class: 'UnknownHandlerError' });
  });
});

describe('raiseForException, on real gateway responses', () => {
  it('passes a 200 with return code 0, and leaves the body readable', async () => {
    const response = await fetch(`${client.gateway}/server/time`);
    await expect(raiseForException(response)).resolves.toBeUndefined();
    expect(await response.json()).toHaveProperty('time_from_server');
  });

  it('throws PipeFailError with class, message, code, returnCode and status for a failure', async () => {
    const error = await raiseForException(await fetch(`${server.gateway}/client/node-a/boom`)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PipeFailError);
    expect(error).toMatchObject({ class: 'TypeError', message: 'boom on the client', code: 'RP_ERR_HANDLER', returnCode: 251, status: 500 });
  });

  it('throws for a 200 whose return code is not 0', async () => {
    const error = await raiseForException(await fetch(`${client.gateway}/server/custom`)).catch((e: unknown) => e);
    expect(error).toMatchObject({ returnCode: 7, status: 200 });
  });
});

describe('gateway specifics', () => {
  it('a bare /server/ is 400', async () => {
    for (const path of ['/server/', '/server']) {
      const response = await rawRequest(client.gateway, path);
      expect(response.status).toBe(400);
    }
  });

  it('a client name never connected is 404 UnknownClientError after --connect-wait-ms', async () => {
    const started = Date.now();
    const response = await fetch(`${server.gateway}/client/nobody/time`);
    expect(response.status).toBe(404);
    expect(await envelope(response)).toMatchObject({ class: 'UnknownClientError', code: 'RP_ERR_UNKNOWN_CLIENT' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('an invalid client name is 400', async () => {
    const response = await rawRequest(server.gateway, '/client/..%2f/time');
    expect(response.status).toBe(400);
  });

  it('unknown routes are 404 NotFoundError envelopes', async () => {
    const response = await fetch(`${client.gateway}/elsewhere`);
    expect(response.status).toBe(404);
    expect(await envelope(response)).toMatchObject({ class: 'NotFoundError', code: 'RP_ERR_NOT_FOUND' });
  });

  it('health, ready and clients describe the nodes', async () => {
    const cert = { notAfter: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), daysLeft: expect.any(Number) };
    expect(await (await fetch(`${client.gateway}/_rp/health`)).json()).toEqual({ status: 'ok', role: 'client', name: 'node-a', connected: true, peers: 1, cert });
    expect(await (await fetch(`${server.gateway}/_rp/health`)).json()).toEqual({ status: 'ok', role: 'server', name: 'server', connected: true, peers: 1, cert });
    expect((await fetch(`${server.gateway}/_rp/ready`)).status).toBe(200);
    const clients = (await (await fetch(`${server.gateway}/_rp/clients`)).json()) as Array<Record<string, unknown>>;
    expect(clients).toHaveLength(1);
    expect(clients[0]).toMatchObject({ name: 'node-a', address: '127.0.0.1', inFlight: 0 });
    expect(Object.keys(clients[0]!).sort()).toEqual([
      'address', 'connectedAt', 'errorsIn', 'errorsOut', 'eventsIn', 'eventsOut', 'inFlight', 'name', 'node', 'notAfter', 'rttMs', 'serial', 'software', 'streams',
    ]);
    // One node, no cluster: /_rp/cluster still names it (SPEC §11), and says the cluster is off.
    const view = (await (await fetch(`${server.gateway}/_rp/cluster`)).json()) as { node: string; nats: string; cluster: string; nodes: Array<{ clients: number }> };
    expect(view).toMatchObject({ nats: 'disconnected', cluster: 'off' });
    expect(view.nodes).toEqual([expect.objectContaining({ node: view.node, clients: 1 })]);
    expect(clients[0]!['node']).toBe(view.node);
  });

  it('carries 500 concurrent requests in both directions', async () => {
    const calls = Array.from({ length: 500 }, (_, i) => {
      const url = i % 2 === 0 ? `${client.gateway}/server/mixed//${i}` : `${server.gateway}/client/node-a/mixed//${i}`;
      return fetch(url).then(async (r) => ({ status: r.status, body: (await r.json()) as { side: string; n: string } }));
    });
    const results = await Promise.all(calls);
    results.forEach((result, i) => {
      expect(result.status).toBe(200);
      expect(result.body).toEqual({ side: i % 2 === 0 ? 'server' : 'client', n: String(i) });
    });
  });
});

describe('limits and the API key', () => {
  let small: CertDir;
  let limitedServer: NodeProcess;
  let limitedClient: NodeProcess;
  const key = 'k3y-for-tests-only';

  beforeAll(async () => {
    small = new CertDir(['node-b']);
    const keyFile = join(small.dir, 'api.key');
    writeFileSync(keyFile, `${key}\n`);
    chmodSync(keyFile, 0o600);
    const pipePort = await freePort();
    limitedServer = await startNode('server', small, 'server', ['--listen', `127.0.0.1:${pipePort}`, '--max-event-bytes', '1024', '--max-in-flight', '2', '--max-stream-bytes', '4096']);
    limitedClient = await startNode('client', small, 'node-b', [
      '--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', '--max-event-bytes', '1024', '--max-in-flight', '2', '--max-stream-bytes', '4096', '--api-key-file', keyFile,
    ]);
    await waitFor(async () => (await fetch(`${limitedClient.gateway}/_rp/ready`, { headers: { authorization: `Bearer ${key}` } })).ok, 'the limited client');
  });

  afterAll(async () => {
    await Promise.all([limitedClient?.stop(), limitedServer?.stop()]);
  });

  const auth = { authorization: `Bearer ${key}` };

  it('without the key every route but health is 401', async () => {
    expect((await fetch(`${limitedClient.gateway}/_rp/health`)).status).toBe(200);
    const missing = await fetch(`${limitedClient.gateway}/server/time`);
    expect(missing.status).toBe(401);
    expect(await envelope(missing)).toMatchObject({ class: 'UnauthorizedError', code: 'RP_ERR_UNAUTHORIZED' });
    expect((await fetch(`${limitedClient.gateway}/server/time`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${limitedClient.gateway}/_rp/ready`)).status).toBe(401);
    expect((await fetch(`${limitedClient.gateway}/server/time`, { headers: auth })).status).toBe(200);
  });

  it('a body over --max-event-bytes is streamed (SPEC §12), and one over --max-stream-bytes is 413 BodyTooLargeError', async () => {
    const response = await fetch(`${limitedClient.gateway}/server/echo`, { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(4097) });
    expect(response.status).toBe(413);
    expect(await envelope(response)).toMatchObject({ class: 'BodyTooLargeError', code: 'RP_ERR_BODY_TOO_LARGE' });
    // Streamed: this handler reads body.raw, which a streamed body does not have.
    const streamed = await fetch(`${limitedClient.gateway}/server/echo`, { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(1025) });
    expect(streamed.status).toBe(500);
    expect(await envelope(streamed)).toMatchObject({ class: 'BodyIsStreamError', code: 'RP_ERR_BODY_IS_STREAM' });
    const fits = await fetch(`${limitedClient.gateway}/server/echo`, { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream' }, body: Buffer.alloc(1024) });
    expect(fits.status).toBe(200);
  });

  it('over --max-in-flight is 503 TooManyInFlightError with Retry-After: 1', async () => {
    const slow = [1, 2].map(() => fetch(`${limitedClient.gateway}/server/slow?ms=1500`, { headers: auth }));
    await waitFor(async () => {
      const list = (await (await fetch(`${limitedServer.gateway}/_rp/clients`)).json()) as Array<{ eventsIn: number }>;
      return list[0] !== undefined;
    }, 'the limited client to be listed');
    await new Promise((r) => setTimeout(r, 200));
    const third = await fetch(`${limitedClient.gateway}/server/time`, { headers: auth });
    expect(third.status).toBe(503);
    expect(third.headers.get('retry-after')).toBe('1');
    expect(await envelope(third)).toMatchObject({ class: 'TooManyInFlightError', code: 'RP_ERR_TOO_MANY_IN_FLIGHT' });
    for (const response of await Promise.all(slow)) expect(response.status).toBe(200);
  });
});
