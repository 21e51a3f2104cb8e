/**
 * SPEC §13, issue 17: the live dashboard at GET /_rp/ui, in a real headless chromium (Debian's,
 * driven by playwright-core; no browser is downloaded), fed by real rp-server and rp-client
 * processes over real mutual TLS. Every wait is for a condition in the page, with a deadline:
 * the 2 s and 3-heartbeat deadlines are the issue's own.
 */
import { chmodSync, copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueCertificate } from '@restpipe/certs';
import { HEARTBEAT_MISSES, PROTOCOL_VERSION } from '@restpipe/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchBrowser, type BrowserSession, type WatchedPage } from './helpers/browser.js';
import { ROOT } from './helpers/cli.js';
import { call } from './helpers/http.js';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { RawPeer } from './helpers/raw-peer.js';
import { waitFor } from './helpers/wait.js';

/** Both sides use it. One tick (1 s) after a kill the page knows: 3 heartbeats of 1 s leave room on a busy machine. */
const HEARTBEAT_MS = 1000;
/** The contract sends a tick every 1000 ms: the page can only show what a tick told it. */
const TICK_MS = 1000;
const KEY = 'dashboard-key-7f3a9c2e';
const LIVE_TIMEOUT_MS = 15_000;

/** What a hostile peer puts in an arg, a query value and (through the handler) an error message. */
const XSS_ARG = '<img src=x onerror=window.__xss=1>';
const XSS_QUERY = '<script>window.__xss=2</script>';
const XSS_ERROR = '<svg onload=window.__xss=3></svg>';
/** A Hello's software string is the peer's too (printable ASCII, cut to 64 characters). */
const XSS_SOFTWARE = '<img src=x onerror=window.__xss=4>';

function dashboardArgs(certs: CertDir, role: 'server' | 'client', dataName: string): string[] {
  const file = join(certs.dir, 'dashboard-handler.ts');
  if (!existsSync(file)) copyFileSync(join(ROOT, 'test/fixtures/dashboard-handler.ts'), file);
  return ['--handler', `${file}#${role === 'server' ? 'ServerSide' : 'ClientSide'}`, '--data-dir', join(certs.dir, 'data', dataName), '--heartbeat-ms', String(HEARTBEAT_MS)];
}

async function pipeUp(node: NodeProcess): Promise<void> {
  await waitFor(async () => (await fetch(`${node.gateway}/_rp/ready`)).ok, 'the pipe to be up', 20_000);
}

/** Waits until `selector`'s text (trimmed) is `text`. */
async function textIs(w: WatchedPage, selector: string, text: string, timeout = LIVE_TIMEOUT_MS): Promise<void> {
  await w.page.waitForFunction(([sel, want]) => document.querySelector(sel!)?.textContent?.trim() === want, [selector, text], { timeout });
}

async function killHard(node: NodeProcess): Promise<void> {
  if (node.exitCode !== null || node.signalCode !== null) return;
  const exited = new Promise((resolve) => node.once('exit', resolve));
  node.kill('SIGKILL');
  await exited;
}

describe.runIf(hasChromium())('SPEC §13 the dashboard, in a real chromium', () => {
  let browser: BrowserSession;
  let certs: CertDir;
  let pipePort: number;
  let server: NodeProcess;
  let clientA: NodeProcess;
  /** A second server, with --api-key-file, and its client. */
  let keyed: NodeProcess;
  let keyedPipePort: number;
  let keyedClient: NodeProcess;
  const extra: NodeProcess[] = [];
  const pages: WatchedPage[] = [];
  const rawPeers: RawPeer[] = [];
  /** How long the page took, logged at the end: the deadlines are asserted, the margins shown. */
  const seen: string[] = [];

  async function open(node: NodeProcess, viewport?: { width: number; height: number }): Promise<WatchedPage> {
    const w = await browser.open(`${node.gateway}/_rp/ui`, viewport);
    pages.push(w);
    return w;
  }

  async function startClient(name: string, args: string[] = [], port = pipePort): Promise<NodeProcess> {
    const node = await startNode('client', certs, name, ['--server', `127.0.0.1:${port}`, '--server-name', 'localhost', ...dashboardArgs(certs, 'client', name), ...args]);
    extra.push(node);
    await pipeUp(node);
    return node;
  }

  /** An async job's hold id, once its event reached the server and was held there. */
  async function heldJob(job: string, sender = clientA): Promise<string> {
    const view = await waitFor(async () => {
      const v = (await call(`${sender.gateway}/_rp/jobs/${job}`)).json();
      return v.status === 'on_hold' ? v : undefined;
    }, 'the job to be on hold');
    expect(view.hold).toEqual(expect.any(String));
    return view.hold;
  }

  beforeAll(async () => {
    certs = new CertDir(['node-a', 'node-b', 'node-c', 'node-k']);
    const keyFile = join(certs.dir, 'api-key');
    writeFileSync(keyFile, `${KEY}\n`);
    chmodSync(keyFile, 0o600);
    [pipePort, keyedPipePort] = await Promise.all([freePort(), freePort()]);
    // Both servers and the browser at once: the machine may have 2 cores, but each mostly waits.
    [browser, server, keyed] = await Promise.all([
      launchBrowser(),
      startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, ...dashboardArgs(certs, 'server', 'server')]),
      startNode('server', certs, 'server', ['--listen', `127.0.0.1:${keyedPipePort}`, ...dashboardArgs(certs, 'server', 'keyed-server'), '--api-key-file', keyFile]),
    ]);
    [clientA, keyedClient] = await Promise.all([startClient('node-a'), startClient('node-k', [], keyedPipePort)]);
  }, 60_000);

  // Each page holds a /_rp/stream open, and chromium keeps at most 6 HTTP/1.1 connections to
  // one host:port: with pages left open, a later page's Approve would wait for ever.
  afterEach(async () => {
    for (const w of pages.splice(0)) await w.page.close().catch(() => undefined);
  });

  afterAll(async () => {
    if (seen.length > 0) console.log(`dashboard: ${seen.join('; ')}`);
    for (const peer of rawPeers) peer.destroy();
    await browser?.close();
    await Promise.all([...extra.map((node) => node.stop()), server?.stop(), keyed?.stop()]);
  }, 30_000);

  it('serves a self-contained page under a strict CSP; it goes live with no console error, no page error and no request to another host', async () => {
    const page = await call(`${server.gateway}/_rp/ui`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    for (const part of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) expect(csp).toContain(part);
    expect(csp).not.toContain('unsafe-inline');

    const w = await open(server);
    await textIs(w, '#conn-state', 'live');
    await w.page.locator('#clients tr[data-client="node-a"][data-online="true"]').waitFor({ timeout: LIVE_TIMEOUT_MS });
    await w.page.waitForFunction(() => /server/.test(document.querySelector('#health')?.textContent ?? ''), null, { timeout: LIVE_TIMEOUT_MS });
    expect(await w.page.$$eval('#chart-rate, #chart-latency', (els) => els.map((e) => e.tagName.toLowerCase()))).toEqual(['svg', 'svg']);
    await w.page.waitForFunction(() => ['#chart-rate', '#chart-latency'].every((sel) => (document.querySelector(sel)?.childElementCount ?? 0) > 0), null, { timeout: LIVE_TIMEOUT_MS });
    expect(await w.page.locator('#key-prompt').isVisible()).toBe(false);

    const origin = new URL(server.gateway).origin;
    expect(w.requests.some((u) => u.startsWith(`${origin}/_rp/stream`))).toBe(true);
    expect(w.foreignRequests(origin)).toEqual([]);
    expect(w.pageErrors).toEqual([]);
    expect(w.consoleErrors).toEqual([]);
  });

  it('a client that connects appears within 2 s; one killed with SIGKILL is marked offline within 3 heartbeats', async () => {
    const w = await open(server);
    await textIs(w, '#conn-state', 'live');
    const nodeB = await startClient('node-b');
    // From the moment its pipe is up.
    let since = performance.now();
    await w.page.locator('#clients tr[data-client="node-b"][data-online="true"]').waitFor({ timeout: 2_000 });
    seen.push(`a connected client appeared after ${Math.round(performance.now() - since)} ms (deadline 2000)`);

    since = performance.now();
    await killHard(nodeB);
    await w.page.locator('#clients tr[data-client="node-b"][data-online="false"]').waitFor({ timeout: 3 * HEARTBEAT_MS });
    seen.push(`a killed client was marked offline after ${Math.round(performance.now() - since)} ms (deadline ${3 * HEARTBEAT_MS})`);
    expect(w.pageErrors).toEqual([]);
    expect(w.consoleErrors).toEqual([]);
  });

  it('a client frozen with SIGSTOP (its socket still open) is marked offline once the server\'s heartbeat gives up on it', async () => {
    const w = await open(server);
    await textIs(w, '#conn-state', 'live');
    const nodeC = await startClient('node-c');
    await w.page.locator('#clients tr[data-client="node-c"][data-online="true"]').waitFor({ timeout: 2_000 });

    const since = performance.now();
    nodeC.kill('SIGSTOP');
    try {
      // The server calls a peer dead after HEARTBEAT_MISSES silent intervals, checked once per
      // interval; then the next tick carries it: more than 3 heartbeats by construction.
      const deadline = HEARTBEAT_MISSES * HEARTBEAT_MS + HEARTBEAT_MS + TICK_MS + 1_000;
      await w.page.locator('#clients tr[data-client="node-c"][data-online="false"]').waitFor({ timeout: deadline });
      seen.push(`a frozen client was marked offline after ${Math.round(performance.now() - since)} ms (deadline ${deadline})`);
    } finally {
      await killHard(nodeC);
    }
    expect(w.pageErrors).toEqual([]);
  });

  it('a request id sent shows up in the call log of both ends; the filters hide what does not match', async () => {
    const [onServer, onClient] = await Promise.all([open(server), open(clientA)]);
    await Promise.all([textIs(onServer, '#conn-state', 'live'), textIs(onClient, '#conn-state', 'live')]);
    const ok = `dash-ok-${process.pid}-${Date.now()}`;
    const bad = `dash-bad-${process.pid}-${Date.now()}`;
    expect((await call(`${clientA.gateway}/server/time`, { headers: { 'x-request-id': ok } })).status).toBe(200);
    expect((await call(`${clientA.gateway}/server/fail//x`, { headers: { 'x-request-id': bad } })).status).toBe(500);

    for (const w of [onServer, onClient]) {
      const okRow = w.page.locator(`#calls tr[data-request-id="${ok}"]`);
      const badRow = w.page.locator(`#calls tr[data-request-id="${bad}"]`);
      await okRow.waitFor({ timeout: LIVE_TIMEOUT_MS });
      await badRow.waitFor({ timeout: LIVE_TIMEOUT_MS });
      expect(await okRow.textContent()).toContain('200');
      expect(await badRow.textContent()).toContain('500');

      await w.page.selectOption('#filter-status', '5xx');
      await okRow.waitFor({ state: 'hidden', timeout: 5_000 });
      expect(await badRow.isVisible()).toBe(true);
      await w.page.selectOption('#filter-status', 'all');
      await w.page.fill('#filter-handler', 'get_time');
      await badRow.waitFor({ state: 'hidden', timeout: 5_000 });
      expect(await okRow.isVisible()).toBe(true);
      await w.page.fill('#filter-handler', '');
      await badRow.waitFor({ state: 'visible', timeout: 5_000 });
    }
    expect([...onServer.pageErrors, ...onClient.pageErrors]).toEqual([]);
    expect([...onServer.consoleErrors, ...onClient.consoleErrors]).toEqual([]);
  });

  it('clicking Approve on a hold makes the held job succeed', async () => {
    const [onServer, onClient] = await Promise.all([open(server), open(clientA)]);
    await Promise.all([textIs(onServer, '#conn-state', 'live'), textIs(onClient, '#conn-state', 'live')]);
    const res = await call(`${clientA.gateway}/server/guarded/run//v2`, { method: 'POST', headers: { prefer: 'respond-async', 'content-type': 'application/json' }, body: '{}' });
    expect(res.status, res.text).toBe(202);
    const hold = await heldJob(res.json().job);
    const { job } = res.json();

    const row = onServer.page.locator(`#holds tr[data-hold="${hold}"]`);
    await row.locator('button.approve').waitFor({ timeout: LIVE_TIMEOUT_MS });
    await row.locator('button.approve').click();

    const done = await waitFor(async () => {
      const view = (await call(`${clientA.gateway}/_rp/jobs/${job}`)).json();
      return ['succeeded', 'failed', 'expired', 'cancelled'].includes(view.status) ? view : undefined;
    }, 'the job to end', 10_000);
    expect(done.status).toBe('succeeded');
    expect((await call(`${clientA.gateway}/_rp/jobs/${job}/result`)).json()).toEqual({ side: 'server', ran: 'v2', by: 'node-a' });
    expect((await call(`${server.gateway}/_rp/holds/${hold}`)).json()).toMatchObject({ status: 'approved' });
    await textIs(onClient, `#jobs tr[data-job="${job}"] td.status`, 'succeeded');
    await row.locator('button.approve').waitFor({ state: 'detached', timeout: LIVE_TIMEOUT_MS });
    expect([...onServer.pageErrors, ...onClient.pageErrors]).toEqual([]);
    expect([...onServer.consoleErrors, ...onClient.consoleErrors]).toEqual([]);
  });

  it('markup a peer sends in an arg, a query value and an error message stays text: window.__xss stays undefined', async () => {
    const [onServer, onClient] = await Promise.all([open(server), open(clientA)]);
    await Promise.all([textIs(onServer, '#conn-state', 'live'), textIs(onClient, '#conn-state', 'live')]);
    const failId = `dash-xss-${process.pid}-${Date.now()}`;
    const held = await call(`${clientA.gateway}/server/guarded/run//${encodeURIComponent(XSS_ARG)}?q=${encodeURIComponent(XSS_QUERY)}`, { method: 'POST', headers: { prefer: 'respond-async' } });
    expect(held.status, held.text).toBe(202);
    const { job } = held.json();
    const hold = await heldJob(job);
    // A peer whose Hello names markup as its software.
    const raw = await RawPeer.connect(pipePort, issueCertificate(certs.ca, 'client', { name: 'node-x' }), certs.ca.certPem);
    rawPeers.push(raw);
    raw.send({ kind: 'hello', hello: { protocolVersion: PROTOCOL_VERSION, software: XSS_SOFTWARE, heartbeatMs: 60_000, maxEventBytes: 1 << 20, maxInFlight: 16, maxConcurrency: 4, maxInboundBytes: 0 } });
    const failed = await call(`${clientA.gateway}/server/fail//${encodeURIComponent(XSS_ERROR)}?q=${encodeURIComponent(XSS_ARG)}`, { headers: { 'x-request-id': failId } });
    expect(failed.status).toBe(500);
    expect(failed.json().exception.message).toContain(XSS_ERROR);

    const row = onServer.page.locator(`#holds tr[data-hold="${hold}"]`);
    await row.waitFor({ timeout: LIVE_TIMEOUT_MS });
    const rowText = (await row.textContent()) ?? '';
    expect(rowText).toContain(XSS_ARG);
    expect(rowText).toContain(XSS_QUERY);
    // The reason is the handler's own message, made of what the peer sent.
    expect(await row.locator('td.reason').first().textContent()).toBe(`server holds guarded/run: ${XSS_ARG} ${JSON.stringify({ q: XSS_QUERY })}`);
    // The handler's message, made of the path's arg and the query, is the error cell's text and title.
    for (const w of [onServer, onClient]) {
      const error = w.page.locator(`#calls tr[data-request-id="${failId}"] td.error`);
      await error.waitFor({ timeout: LIVE_TIMEOUT_MS });
      for (const text of [await error.textContent(), await error.getAttribute('title')]) {
        expect(text).toContain(XSS_ERROR);
        expect(text).toContain(JSON.stringify({ q: XSS_ARG }));
      }
      expect(await error.evaluate((cell) => cell.childElementCount)).toBe(0);
    }
    const rawRow = onServer.page.locator('#clients tr[data-client="node-x"][data-online="true"]');
    await rawRow.waitFor({ timeout: LIVE_TIMEOUT_MS });
    expect(await rawRow.textContent()).toContain(XSS_SOFTWARE);

    // Deny it from the page: the sender's job fails 403, and the page shows that too.
    await row.locator('button.deny').click();
    await textIs(onClient, `#jobs tr[data-job="${job}"] td.status`, 'failed');

    for (const [w, node] of [[onServer, server], [onClient, clientA]] as const) {
      expect(await w.page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss)).toBeUndefined();
      // Nothing the peer sent became an element (CSP alone would also stop the handlers running).
      expect(await w.page.$$eval('img[src="x"], svg[onload], script:not([src])', (els) => els.length)).toBe(0);
      expect(w.pageErrors).toEqual([]);
      expect(w.consoleErrors).toEqual([]);
      expect(w.foreignRequests(new URL(node.gateway).origin)).toEqual([]);
    }
  });

  describe('with --api-key-file', () => {
    it('asks for the key; a wrong one is refused and asked again; the right one goes live, kept in sessionStorage only', async () => {
      const w = await open(keyed);
      const origin = new URL(keyed.gateway).origin;
      const authorizations: string[] = [];
      w.page.on('request', (request) => {
        if (request.url().startsWith(`${origin}/_rp/stream`)) authorizations.push(request.headers()['authorization'] ?? '');
      });
      await w.page.locator('#key-prompt').waitFor({ state: 'visible', timeout: LIVE_TIMEOUT_MS });
      await textIs(w, '#conn-state', 'key needed');
      expect(await w.page.getAttribute('#key-input', 'type')).toBe('password');

      const refused = w.page.waitForResponse((r) => r.url().startsWith(`${origin}/_rp/`) && r.status() === 401 && r.request().headers()['authorization'] === 'Bearer wrong-key', { timeout: LIVE_TIMEOUT_MS });
      await w.page.fill('#key-input', 'wrong-key');
      await w.page.click('#key-submit');
      await refused;
      await w.page.locator('#key-prompt').waitFor({ state: 'visible', timeout: LIVE_TIMEOUT_MS });
      await textIs(w, '#conn-state', 'key needed');
      expect(await w.page.evaluate(() => sessionStorage.getItem('rp-api-key'))).toBeNull();

      await w.page.fill('#key-input', KEY);
      await w.page.click('#key-submit');
      await textIs(w, '#conn-state', 'live');
      await w.page.locator('#key-prompt').waitFor({ state: 'hidden', timeout: LIVE_TIMEOUT_MS });
      await w.page.locator('#clients tr[data-client="node-k"][data-online="true"]').waitFor({ timeout: LIVE_TIMEOUT_MS });
      expect(authorizations).toContain(`Bearer ${KEY}`);

      expect(await w.page.evaluate(() => sessionStorage.getItem('rp-api-key'))).toBe(KEY);
      expect(await w.page.evaluate(() => Object.keys(localStorage).map((k) => localStorage.getItem(k)))).not.toContain(KEY);
      expect(await w.page.evaluate(() => document.cookie)).not.toContain(KEY);
      expect((await browser.context.cookies(origin)).filter((c) => c.value.includes(KEY))).toEqual([]);
      expect(w.requests.filter((u) => u.includes(KEY) || u.includes('wrong-key'))).toEqual([]);
      expect(w.foreignRequests(origin)).toEqual([]);
      expect(w.pageErrors).toEqual([]);
      // The only console errors allowed are Chromium's own lines for the refused (401) fetches.
      expect(w.consoleErrors.filter((e) => !/\b401\b/.test(e))).toEqual([]);

      // The buttons send it too: a hold approved from this page is decided by the API key.
      const res = await call(`${keyedClient.gateway}/server/guarded/run//keyed`, { method: 'POST', headers: { prefer: 'respond-async' } });
      expect(res.status, res.text).toBe(202);
      const hold = await heldJob(res.json().job, keyedClient);
      const approve = w.page.locator(`#holds tr[data-hold="${hold}"] button.approve`);
      await approve.waitFor({ timeout: LIVE_TIMEOUT_MS });
      await approve.click();
      const decided = await waitFor(async () => {
        const view = (await call(`${keyed.gateway}/_rp/holds/${hold}`, { headers: { authorization: `Bearer ${KEY}` } })).json();
        return view.status === 'pending' ? undefined : view;
      }, 'the hold to be decided');
      expect(decided).toMatchObject({ status: 'approved', decidedBy: 'api-key' });

      // The tab keeps it across a reload; a new tab has its own session and asks again.
      await w.page.reload();
      await textIs(w, '#conn-state', 'live');
      const other = await open(keyed);
      await other.page.locator('#key-prompt').waitFor({ state: 'visible', timeout: LIVE_TIMEOUT_MS });
      await textIs(other, '#conn-state', 'key needed');
    });

    it('the page and its assets load without a key; every data route and the stream refuse one without it', async () => {
      const w = await open(keyed);
      await w.page.locator('#key-prompt').waitFor({ state: 'visible', timeout: LIVE_TIMEOUT_MS });
      const assets = w.requests.filter((u) => new URL(u).pathname.startsWith('/_rp/ui'));
      expect(assets.length).toBeGreaterThan(1);
      for (const url of assets) expect((await call(url)).status, url).toBe(200);
      for (const route of ['/_rp/stream', '/_rp/events', '/_rp/clients', '/_rp/connections/closed', '/_rp/holds', '/_rp/jobs']) {
        // fetch, not call: a stream that wrongly answered 200 would never end.
        const res = await fetch(`${keyed.gateway}${route}`, { signal: AbortSignal.timeout(10_000) });
        await res.body?.cancel();
        expect(res.status, route).toBe(401);
      }
      expect(keyedClient.exitCode).toBeNull();
    });
  });
});
