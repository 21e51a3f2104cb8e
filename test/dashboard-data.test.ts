/**
 * SPEC §13's data: the call log, the closed-connection log, the richer client list with
 * offline clients, and the live stream, from real rp-server and rp-client processes.
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from '@restpipe/certs';
import { CertDir, freePort, startNode, type NodePair } from './helpers/nodes.js';
import { waitFor } from './helpers/wait.js';
import { MAX_WATCHERS } from '@restpipe/gateway';

const KEY = 'dashboard-test-key-0123456789abcdef';
const auth = { authorization: `Bearer ${KEY}` };

async function json(url: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url, { ...init, headers: { ...auth, ...(init.headers as Record<string, string> | undefined) } });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers };
}

/** The first `tick` of /_rp/stream, read as a page would. */
async function firstTick(url: string, headers: Record<string, string>): Promise<any> {
  const controller = new AbortController();
  const response = await fetch(url, { headers, signal: controller.signal });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/event-stream');
  const reader = response.body!.getReader();
  let text = '';
  try {
    while (!text.includes('\n\n')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
  } finally {
    controller.abort();
  }
  const message = text.slice(0, text.indexOf('\n\n'));
  expect(message).toMatch(/^event: tick\ndata: /);
  return JSON.parse(message.slice(message.indexOf('data: ') + 6));
}

/** A GET with its target sent exactly as given; resolves with the whole answer's text. */
function rawGet(base: string, target: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.end(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('dashboard data (SPEC §13)', () => {
  const certs = new CertDir(['node-a', 'node-b']);
  let pair: NodePair;

  beforeAll(async () => {
    const keyFile = join(certs.dir, 'api.key');
    writeFileSync(keyFile, `${KEY}\n`, { mode: 0o600 });
    const pipePort = await freePort();
    const both = ['--api-key-file', keyFile, '--heartbeat-ms', '300'];
    const server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, ...both]);
    const client = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', ...both]);
    pair = { server, client, pipePort };
    await waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`, { headers: auth })).ok, 'the pipe to be up');
  }, 60_000);

  afterAll(async () => {
    await Promise.all([pair?.client.stop(), pair?.server.stop()]);
  });

  it('logs events both ways, newest first, with every §13 field', async () => {
    const ok = await fetch(`${pair.client.gateway}/server/cat//a/b?x=1`, { headers: { ...auth, 'x-request-id': 'dash-ok-1' } });
    expect(ok.status).toBe(200);
    const boom = await fetch(`${pair.client.gateway}/server/boom`, { headers: { ...auth, 'x-request-id': 'dash-boom-1' } });
    expect(boom.status).toBe(500);
    const posted = await fetch(`${pair.server.gateway}/client/node-a/echo`, {
      method: 'POST', headers: { ...auth, 'x-request-id': 'dash-post-1', 'content-type': 'text/plain' }, body: 'twelve bytes',
    });
    expect(posted.status).toBe(200);
    let out: any[] = [];
    await waitFor(async () => {
      out = (await json(`${pair.client.gateway}/_rp/events?limit=1000`)).body;
      return out.some((e: any) => e.requestId === 'dash-boom-1') && out.some((e: any) => e.requestId === 'dash-post-1');
    }, 'the client to log its events');
    const done = out.find((e: any) => e.requestId === 'dash-ok-1');
    expect(done).toMatchObject({ direction: 'out', peer: 'server', verb: 'get', noun: 'cat', handler: 'get_cat', status: 200, returnCode: 0, bytesOut: 0 });
    expect(done.bytesIn).toBeGreaterThan(0);
    expect(Object.keys(done).sort()).toEqual(['at', 'bytesIn', 'bytesOut', 'direction', 'durationMs', 'error', 'handler', 'noun', 'peer', 'requestId', 'returnCode', 'status', 'verb']);
    expect(new Date(done.at).toISOString()).toBe(done.at);
    expect(done.error).toBeNull();
    expect(out.find((e: any) => e.requestId === 'dash-boom-1')).toMatchObject({ direction: 'out', status: 500, returnCode: 251, error: expect.any(String) });
    // Handled here: the server's echo, body in and out.
    expect(out.find((e: any) => e.requestId === 'dash-post-1')).toMatchObject({ direction: 'in', peer: 'server', verb: 'post', noun: 'echo', status: 200, bytesIn: 12, bytesOut: 12 });
    // Newest first.
    const times = out.map((e: any) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const handled = (await json(`${pair.server.gateway}/_rp/events`)).body;
    const failed = handled.find((e: any) => e.requestId === 'dash-boom-1');
    expect(failed).toMatchObject({ direction: 'in', peer: 'node-a', handler: 'get_boom', status: 500, returnCode: 251 });
    // The handler's own message, on both sides.
    expect(failed.error.length).toBeGreaterThan(0);
    expect(out.find((e: any) => e.requestId === 'dash-boom-1').error).toContain(failed.error);
  });

  it('gives 400 for a limit out of range, and 401 without the key', async () => {
    for (const limit of ['0', '1001', 'x', '-1']) expect((await json(`${pair.server.gateway}/_rp/events?limit=${limit}`)).status).toBe(400);
    expect((await json(`${pair.server.gateway}/_rp/events?limit=1`)).body).toHaveLength(1);
    for (const route of ['/_rp/events', '/_rp/connections/closed', '/_rp/clients', '/_rp/stream']) {
      expect((await fetch(`${pair.server.gateway}${route}`)).status).toBe(401);
      expect((await fetch(`${pair.server.gateway}${route}`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    }
  });

  it('lists clients with certificate, software, errors and RTT; keeps the ones gone as offline until cleared', async () => {
    await waitFor(async () => (await json(`${pair.server.gateway}/_rp/clients`)).body[0]?.rttMs !== null, 'a heartbeat RTT');
    const [client] = (await json(`${pair.server.gateway}/_rp/clients`)).body;
    expect(client).toMatchObject({ name: 'node-a', address: expect.stringContaining('127.0.0.1'), software: expect.stringMatching(/^restpipe\//) });
    expect(client.serial).toMatch(/^[0-9A-F]+$/);
    expect(Date.parse(client.notAfter)).toBeGreaterThan(Date.now());
    expect(client.errorsOut).toBe(0); // the server's own requests to node-a all succeeded
    expect(client.errorsIn).toBeGreaterThanOrEqual(1); // the client's get_boom failed on the server
    const b = await startNode('client', certs, 'node-b', ['--server', `127.0.0.1:${pair.pipePort}`, '--server-name', 'localhost', '--heartbeat-ms', '300']);
    await waitFor(async () => (await json(`${pair.server.gateway}/_rp/clients`)).body.length === 2, 'node-b to connect');
    b.kill('SIGKILL');
    let all: any[] = [];
    await waitFor(async () => {
      all = (await json(`${pair.server.gateway}/_rp/clients?offline=1`)).body;
      return all.some((c: any) => c.name === 'node-b' && c.online === false);
    }, 'node-b to be offline', 10_000);
    expect(all.find((c: any) => c.name === 'node-a')).toMatchObject({ online: true });
    const gone = all.find((c: any) => c.name === 'node-b');
    expect(Date.parse(gone.lastSeen)).toBeLessThanOrEqual(Date.now());
    // Plain /_rp/clients is what it was: connected clients only.
    expect((await json(`${pair.server.gateway}/_rp/clients`)).body.map((c: any) => c.name)).toEqual(['node-a']);
    const closed = (await json(`${pair.server.gateway}/_rp/connections/closed`)).body;
    expect(closed.find((c: any) => c.peer === 'node-b')).toMatchObject({ refused: false, reason: expect.any(String), address: expect.stringContaining('127.0.0.1') });
    expect((await json(`${pair.server.gateway}/_rp/clients/offline`, { method: 'DELETE' })).body).toEqual({ cleared: 1 });
    expect((await json(`${pair.server.gateway}/_rp/clients?offline=1`)).body.map((c: any) => c.name)).toEqual(['node-a']);
  }, 30_000);

  it('logs a refused certificate with the verifier\'s reason and no peer', async () => {
    const stranger = issueCertificate(createCa(), 'client', { name: 'stranger' });
    certs.write('stranger', stranger);
    const intruder = await startNode('client', certs, 'stranger', ['--server', `127.0.0.1:${pair.pipePort}`, '--server-name', 'localhost']);
    try {
      let closed: any[] = [];
      await waitFor(async () => {
        closed = (await json(`${pair.server.gateway}/_rp/connections/closed`)).body;
        return closed.some((c: any) => c.refused);
      }, 'the refusal to be logged', 10_000);
      const refusal = closed.find((c: any) => c.refused);
      expect(refusal.peer).toBeNull();
      expect(refusal.reason.length).toBeGreaterThan(5);
      expect(Object.keys(refusal).sort()).toEqual(['address', 'at', 'peer', 'reason', 'refused']);
      // The client side logs its failed attempts too.
      await waitFor(async () => (await json(`${intruder.gateway}/_rp/connections/closed`)).body.some((c: any) => c.refused), 'the client to log its refusals');
    } finally {
      await intruder.stop();
    }
  }, 30_000);

  it('streams ticks with health, clients, rates and new events; the page is open, its data is not', async () => {
    const tick = await firstTick(`${pair.server.gateway}/_rp/stream`, auth);
    expect(tick.node).toMatchObject({ role: 'server', name: 'server', software: expect.stringMatching(/^restpipe\//) });
    expect(tick.node.instance).toMatch(/^[0-9a-f-]{36}$/);
    expect(tick.node.cert.daysLeft).toBeGreaterThan(0);
    expect(Array.isArray(tick.node.warnings)).toBe(true);
    expect(tick.clients.map((c: any) => c.name)).toContain('node-a');
    expect(tick.rates.points).toHaveLength(60);
    expect(tick.rates.points.reduce((n: number, p: any) => n + p.count, 0)).toBeGreaterThan(0);
    expect(tick.events.some((e: any) => e.requestId === 'dash-boom-1' && typeof e.seq === 'number')).toBe(true);
    expect(tick.jobs).toMatchObject({ enabled: true, counts: { queued: 0, running: 0, on_hold: 0, succeeded: 0, failed: 0 }, list: [] });
    expect(tick.holds).toMatchObject({ enabled: true, list: [] });
    const page = await fetch(`${pair.server.gateway}/_rp/ui`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('<html');
    // A path that climbs out of the page's directory reaches nothing (sent raw: fetch would resolve the dots itself).
    for (const target of ['/_rp/ui/../events', '/_rp/ui/..%2f..%2fevents', '/_rp/ui/%2e%2e/%2e%2e/_rp/events', '/_rp/ui/../../package.json']) {
      const answer = await rawGet(pair.server.gateway, target);
      expect(answer).not.toMatch(/^HTTP\/1\.1 200/);
      expect(answer).not.toContain('dash-boom-1');
    }
    const health = await fetch(`${pair.client.gateway}/_rp/health`).then((r) => r.json());
    expect(health.cert.daysLeft).toBeGreaterThan(0);
  });

  it('refuses a page past MAX_WATCHERS with 503, and a drain ends open streams instead of waiting on them', async () => {
    const controllers: AbortController[] = [];
    const open = async (): Promise<number> => {
      const controller = new AbortController();
      controllers.push(controller);
      return (await fetch(`${pair.client.gateway}/_rp/stream`, { headers: auth, signal: controller.signal })).status;
    };
    const statuses = await Promise.all(Array.from({ length: MAX_WATCHERS }, open));
    expect(statuses.every((status) => status === 200)).toBe(true);
    const refused = await fetch(`${pair.client.gateway}/_rp/stream`, { headers: auth });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBeTruthy();
    // SIGTERM with every stream still open: the node exits clean.
    expect(await pair.client.stop()).toBe(0);
    for (const controller of controllers) controller.abort();
  }, 30_000);
});
