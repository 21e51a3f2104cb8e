/**
 * SPEC §13 with §10: the dashboard against a node run with `--signing-keys-file` only, in a real
 * headless chromium, fed by real rp-server and rp-client processes. The page asks for a key id
 * and secret, signs every request with WebCrypto as signRequest does, and never sends the secret.
 * Every wait is for a condition in the page or the node, with a deadline.
 */
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Request } from 'playwright-core';
import { signRequest } from 'restpipe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchBrowser, type BrowserSession, type WatchedPage } from './helpers/browser.js';
import { ROOT } from './helpers/cli.js';
import { call, type HttpAnswer } from './helpers/http.js';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { waitFor } from './helpers/wait.js';

const KEY_ID = 'ops-dash';
const SECRET = 'dashboard-signing-secret-5c1e-0123456789abcdef';
/** As long as the right one: the gateway, not the page's length check, must refuse it. */
const WRONG_SECRET = 'dashboard-signing-secret-5c1e-0123456789abcdeX';
const API_KEY = 'dashboard-both-key-2b7d41';
const LIVE_TIMEOUT_MS = 15_000;
/** What the page must send for a request without a body, nonce 16 random bytes in base64url. */
const SIGNATURE_INPUT = /^sig1=\("@method" "@path" "@query"\);created=\d+;keyid="ops-dash";nonce="([A-Za-z0-9_-]{22})";alg="hmac-sha256"$/;
const SIGNATURE_INPUT_WITH_BODY = /^sig1=\("@method" "@path" "@query" "content-digest"\);created=\d+;keyid="ops-dash";nonce="([A-Za-z0-9_-]{22})";alg="hmac-sha256"$/;

function dashboardArgs(certs: CertDir, role: 'server' | 'client', dataName: string): string[] {
  const file = join(certs.dir, 'dashboard-handler.ts');
  if (!existsSync(file)) copyFileSync(join(ROOT, 'test/fixtures/dashboard-handler.ts'), file);
  return ['--handler', `${file}#${role === 'server' ? 'ServerSide' : 'ClientSide'}`, '--data-dir', join(certs.dir, 'data', dataName)];
}

function secretFile(certs: CertDir, name: string, text: string): string {
  const file = join(certs.dir, name);
  writeFileSync(file, text);
  chmodSync(file, 0o600);
  return file;
}

/** A GET to a signing node, signed here as any program would sign it. */
function signedGet(node: NodeProcess, path: string): Promise<HttpAnswer> {
  const url = `${node.gateway}${path}`;
  return call(url, { headers: { ...signRequest({ method: 'GET', url: path }, { keyId: KEY_ID, key: SECRET }) } });
}

async function textIs(w: WatchedPage, selector: string, text: string, timeout = LIVE_TIMEOUT_MS): Promise<void> {
  await w.page.waitForFunction(([sel, want]) => document.querySelector(sel!)?.textContent?.trim() === want, [selector, text], { timeout });
}

/** Every request the page makes to its gateway's data routes, as sent. */
function recordRequests(w: WatchedPage, node: NodeProcess): Request[] {
  const origin = new URL(node.gateway).origin;
  const seen: Request[] = [];
  w.page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.origin === origin && url.pathname.startsWith('/_rp/') && !url.pathname.startsWith('/_rp/ui')) seen.push(request);
  });
  return seen;
}

describe.runIf(hasChromium())('SPEC §13 the dashboard of a node with --signing-keys-file, in a real chromium', () => {
  let browser: BrowserSession;
  let certs: CertDir;
  let signing: NodeProcess;
  let client: NodeProcess;
  /** A server with --api-key-file and --signing-keys-file both. */
  let both: NodeProcess;
  const pages: WatchedPage[] = [];

  async function open(node: NodeProcess): Promise<WatchedPage> {
    const w = await browser.open(`${node.gateway}/_rp/ui`);
    pages.push(w);
    return w;
  }

  /** Waits for the prompt to ask for a signing key, then types `keyId` and `secret` and submits. */
  async function signIn(w: WatchedPage, keyId: string, secret: string): Promise<void> {
    await w.page.locator('#key-id-input').waitFor({ state: 'visible', timeout: LIVE_TIMEOUT_MS });
    await w.page.fill('#key-id-input', keyId);
    await w.page.fill('#key-input', secret);
    await w.page.click('#key-submit');
  }

  beforeAll(async () => {
    certs = new CertDir(['node-s']);
    const keysFile = secretFile(certs, 'signing-keys.json', JSON.stringify({ [KEY_ID]: SECRET }));
    const apiKeyFile = secretFile(certs, 'api-key', `${API_KEY}\n`);
    const pipePort = await freePort();
    [browser, signing, both] = await Promise.all([
      launchBrowser(),
      startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, ...dashboardArgs(certs, 'server', 'signing'), '--signing-keys-file', keysFile]),
      startNode('server', certs, 'server', ['--listen', `127.0.0.1:${await freePort()}`, ...dashboardArgs(certs, 'server', 'both'),
        '--signing-keys-file', keysFile, '--api-key-file', apiKeyFile]),
    ]);
    client = await startNode('client', certs, 'node-s', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', ...dashboardArgs(certs, 'client', 'node-s')]);
    await waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`)).ok, 'the pipe to be up', 20_000);
  }, 60_000);

  // Each page holds a /_rp/stream open, and chromium keeps at most 6 connections to one host:port.
  afterEach(async () => {
    for (const w of pages.splice(0)) await w.page.close().catch(() => undefined);
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([client?.stop(), signing?.stop(), both?.stop()]);
  }, 30_000);

  it('asks for a key id and secret; a wrong secret is refused and asked again; the right one goes live, every request signed, the secret never sent', async () => {
    const w = await open(signing);
    const sent = recordRequests(w, signing);
    await w.page.locator('#key-prompt').waitFor({ state: 'visible', timeout: LIVE_TIMEOUT_MS });
    await textIs(w, '#conn-state', 'key needed');
    // Only signatures are offered: no choice to make, and no API key asked for.
    expect(await w.page.locator('#key-modes').isVisible()).toBe(false);
    expect(await w.page.getAttribute('#key-input', 'type')).toBe('password');

    // Too short to be any key of the gateway: refused in the page, nothing sent.
    const before = sent.length;
    await signIn(w, KEY_ID, 'short');
    await w.page.waitForFunction(() => /at least 32 bytes/.test(document.querySelector('#key-error')?.textContent ?? ''), null, { timeout: 5_000 });
    expect(sent.length).toBe(before);

    const refused = w.page.waitForResponse((r) => r.url().endsWith('/_rp/stream') && r.status() === 401 && SIGNATURE_INPUT.test(r.request().headers()['signature-input'] ?? ''), { timeout: LIVE_TIMEOUT_MS });
    await signIn(w, KEY_ID, WRONG_SECRET);
    await refused;
    await w.page.waitForFunction(() => /refused/.test(document.querySelector('#key-error')?.textContent ?? ''), null, { timeout: LIVE_TIMEOUT_MS });
    await textIs(w, '#conn-state', 'key needed');
    expect(await w.page.locator('#key-prompt').isVisible()).toBe(true);
    expect(await w.page.evaluate(() => sessionStorage.getItem('rp-signing-key'))).toBeNull();

    await signIn(w, KEY_ID, SECRET);
    await textIs(w, '#conn-state', 'live');
    await w.page.locator('#key-prompt').waitFor({ state: 'hidden', timeout: LIVE_TIMEOUT_MS });
    await w.page.locator('#clients tr[data-client="node-s"][data-online="true"]').waitFor({ timeout: LIVE_TIMEOUT_MS });

    const streams = sent.filter((r) => r.url().endsWith('/_rp/stream'));
    const signed = streams.filter((r) => r.headers()['signature-input'] !== undefined);
    expect(signed.length).toBeGreaterThanOrEqual(2);
    for (const r of signed) {
      expect(r.headers()['signature-input']).toMatch(SIGNATURE_INPUT);
      expect(r.headers()['signature']).toMatch(/^sig1=:[A-Za-z0-9+/]{43}=:$/);
      expect(r.headers()['authorization']).toBeUndefined();
    }
    const nonces = signed.map((r) => SIGNATURE_INPUT.exec(r.headers()['signature-input']!)![1]);
    expect(new Set(nonces).size).toBe(nonces.length);

    // Kept for this tab's session only; never in a URL, a header or a cookie.
    expect(JSON.parse((await w.page.evaluate(() => sessionStorage.getItem('rp-signing-key'))) ?? 'null')).toEqual({ keyId: KEY_ID, secret: SECRET });
    expect(await w.page.evaluate(() => Object.keys(localStorage).map((k) => localStorage.getItem(k)))).toEqual([]);
    expect(await w.page.evaluate(() => document.cookie)).toBe('');
    const origin = new URL(signing.gateway).origin;
    expect((await browser.context.cookies(origin)).filter((c) => c.value.includes(SECRET) || c.value.includes(WRONG_SECRET))).toEqual([]);
    expect(w.requests.filter((u) => u.includes(SECRET) || u.includes(WRONG_SECRET) || u.includes(encodeURIComponent(SECRET)))).toEqual([]);
    for (const r of sent) expect(Object.values(r.headers()).filter((v) => v.includes(SECRET) || v.includes(WRONG_SECRET)), r.url()).toEqual([]);
    expect(w.foreignRequests(origin)).toEqual([]);
    expect(w.pageErrors).toEqual([]);
    // The only console errors allowed are Chromium's own lines for the refused (401) fetches.
    expect(w.consoleErrors.filter((e) => !/\b401\b/.test(e))).toEqual([]);

    // The tab keeps it across a reload; a new tab has its own session and asks again.
    await w.page.reload();
    await textIs(w, '#conn-state', 'live');
    const other = await open(signing);
    await other.page.locator('#key-id-input').waitFor({ state: 'visible', timeout: LIVE_TIMEOUT_MS });
    await textIs(other, '#conn-state', 'key needed');
  });

  it('Approve sends a signed POST, its {} body under a Content-Digest: the hold is decided by the key id and the held job succeeds', async () => {
    const w = await open(signing);
    const sent = recordRequests(w, signing);
    await signIn(w, KEY_ID, SECRET);
    await textIs(w, '#conn-state', 'live');

    // The client's gateway has no keys: the sender needs none; the server holds the event.
    const res = await call(`${client.gateway}/server/guarded/run//signed`, { method: 'POST', headers: { prefer: 'respond-async', 'content-type': 'application/json' }, body: '{}' });
    expect(res.status, res.text).toBe(202);
    const { job } = res.json();
    const { hold } = await waitFor(async () => {
      const view = (await call(`${client.gateway}/_rp/jobs/${job}`)).json();
      return view.status === 'on_hold' ? view : undefined;
    }, 'the job to be on hold');
    expect(hold).toEqual(expect.any(String));

    const approve = w.page.locator(`#holds tr[data-hold="${hold}"] button.approve`);
    await approve.waitFor({ timeout: LIVE_TIMEOUT_MS });
    const answered = w.page.waitForResponse((r) => r.url().endsWith(`/_rp/holds/${hold}/approve`), { timeout: LIVE_TIMEOUT_MS });
    await approve.click();
    expect((await answered).status()).toBe(200);
    await w.page.waitForFunction((id) => document.querySelector('#hold-result')?.textContent === `Hold ${id} is now approved.`, hold, { timeout: LIVE_TIMEOUT_MS });

    const post = sent.find((r) => r.method() === 'POST' && r.url().endsWith(`/_rp/holds/${hold}/approve`));
    expect(post).toBeDefined();
    const headers = post!.headers();
    expect(post!.postData()).toBe('{}');
    expect(headers['content-digest']).toBe(`sha-256=:${createHash('sha256').update('{}').digest('base64')}:`);
    expect(headers['signature-input']).toMatch(SIGNATURE_INPUT_WITH_BODY);
    expect(headers['authorization']).toBeUndefined();

    expect((await signedGet(signing, `/_rp/holds/${hold}`)).json()).toMatchObject({ status: 'approved', decidedBy: KEY_ID });
    const done = await waitFor(async () => {
      const view = (await call(`${client.gateway}/_rp/jobs/${job}`)).json();
      return ['succeeded', 'failed', 'expired', 'cancelled'].includes(view.status) ? view : undefined;
    }, 'the job to end');
    expect(done.status).toBe('succeeded');
    expect((await call(`${client.gateway}/_rp/jobs/${job}/result`)).json()).toEqual({ side: 'server', ran: 'signed', by: 'node-s' });
    expect(w.pageErrors).toEqual([]);
    // Only the first, unsigned fetch was refused (401); the signed POST was not.
    expect(w.consoleErrors.filter((e) => !/\b401\b/.test(e))).toEqual([]);
  });

  it('the page signs byte for byte as signRequest does (WebCrypto in the browser, the same created and nonce)', async () => {
    const w = await open(signing);
    const cases = [
      { method: 'GET', path: '/_rp/stream', body: undefined },
      { method: 'POST', path: '/_rp/holds/h%2F1%20x/deny', body: JSON.stringify({ reason: 'no, ünïcødé ✓' }) },
      { method: 'GET', path: '/_rp/events?limit=5&peer=%C3%A9', body: undefined },
    ];
    const secret = `${SECRET}-ünï ✓`;
    // A string, not a function: the test's own transform would rewrite a function's import().
    const ours = await w.page.evaluate(`(async () => {
      const sign = await import('/_rp/ui/sign.js');
      const input = ${JSON.stringify({ cases, keyId: KEY_ID, secret })};
      const key = await sign.importSecret(input.secret);
      return Promise.all(input.cases.map((c) => sign.signatureHeaders(
        { method: c.method, url: new URL(c.path, location.href), body: c.body },
        { keyId: input.keyId, key },
        { created: 1764600000, nonce: 'fixed-nonce_0' })));
    })()`);
    const theirs = cases.map((c) => signRequest({ method: c.method, url: c.path, body: c.body }, { keyId: KEY_ID, key: secret, created: 1_764_600_000, nonce: 'fixed-nonce_0' }));
    expect(ours).toEqual(theirs);
    expect(w.pageErrors).toEqual([]);
  });

  it('a browser clock 20 minutes ahead: the first signature is refused, the page signs again with the gateway\'s time and goes live', async () => {
    const w = await open(signing);
    await w.page.addInitScript(() => {
      const real = Date.now.bind(Date);
      Date.now = () => real() + 20 * 60_000;
    });
    await w.page.reload();
    const sent = recordRequests(w, signing);
    const refused = w.page.waitForResponse((r) => r.url().endsWith('/_rp/stream') && r.status() === 401 && r.request().headers()['signature-input'] !== undefined, { timeout: LIVE_TIMEOUT_MS });
    await signIn(w, KEY_ID, SECRET);
    await textIs(w, '#conn-state', 'live');
    // Its body is gone (the page dropped it to sign again): the created times below tell why.
    await refused;
    const created = sent.filter((r) => r.headers()['signature-input'] !== undefined)
      .map((r) => Number(/;created=(\d+);/.exec(r.headers()['signature-input']!)![1]) - Math.floor(Date.now() / 1000));
    // The refused one was signed 20 minutes ahead; the next ones with the gateway's clock.
    expect(created[0]).toBeGreaterThan(1000);
    expect(Math.abs(created.at(-1)!)).toBeLessThan(60);
    expect(await w.page.locator('#key-prompt').isVisible()).toBe(false);
  });

  it('a node with --api-key-file and --signing-keys-file offers both: the key id and secret work, and so does the API key', async () => {
    const w = await open(both);
    await w.page.locator('#key-modes').waitFor({ state: 'visible', timeout: LIVE_TIMEOUT_MS });
    await textIs(w, '#conn-state', 'key needed');
    expect(await w.page.locator('#key-id-input').isVisible()).toBe(false);
    await w.page.check('#key-mode-signature');
    await signIn(w, KEY_ID, SECRET);
    await textIs(w, '#conn-state', 'live');
    expect(await w.page.evaluate(() => sessionStorage.getItem('rp-api-key'))).toBeNull();

    const other = await open(both);
    await other.page.locator('#key-modes').waitFor({ state: 'visible', timeout: LIVE_TIMEOUT_MS });
    expect(await other.page.isChecked('#key-mode-bearer')).toBe(true);
    await other.page.fill('#key-input', API_KEY);
    await other.page.click('#key-submit');
    await textIs(other, '#conn-state', 'live');
    expect(await other.page.evaluate(() => sessionStorage.getItem('rp-signing-key'))).toBeNull();
    for (const page of [w, other]) {
      expect(page.pageErrors).toEqual([]);
      expect(page.consoleErrors.filter((e) => !/\b401\b/.test(e))).toEqual([]);
    }
  });
});
