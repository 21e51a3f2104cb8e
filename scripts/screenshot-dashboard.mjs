#!/usr/bin/env node
/**
 * Makes docs/dashboard.png: a demo-like rp-server with three clients (one gone), real traffic,
 * an async job, a pending hold, and a refused connection, and the server's /_rp/ui at 1280x800
 * in Debian's headless chromium (playwright-core; no browser is downloaded). Also renders the
 * page at 390x844 (a phone) into the temp dir and says whether it overflows sideways.
 *
 *     npx tsc -b && node scripts/screenshot-dashboard.mjs [--traffic-s 45] [--out docs/dashboard.png]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { initCa, issue } from '@restpipe/certs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values: opts } = parseArgs({ options: { 'traffic-s': { type: 'string', default: '45' }, out: { type: 'string', default: join(ROOT, 'docs/dashboard.png') } } });
const TRAFFIC_MS = Number(opts['traffic-s']) * 1000;
const WORK = mkdtempSync(join(tmpdir(), 'rp-screenshot-'));
const CERTS = join(WORK, 'certs');
const CLIENTS = ['client', 'edge-1', 'edge-2'];
const children = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check, what, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function startNode(role, name, args) {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, `packages/cli/bin/rp-${role}.js`),
    '--cert', join(CERTS, `${name}.crt.pem`), '--key', join(CERTS, `${name}.key.pem`), '--ca', join(CERTS, 'ca.crt.pem'),
    '--gateway', `127.0.0.1:${port}`, '--statsd', 'off', '--data-dir', join(WORK, 'data', name), '--log-level', 'warn', ...args,
  ], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  const gateway = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${gateway}/_rp/ready`)).ok, `rp-${role} ${name}`);
  return { child, gateway };
}

/** One call; the answer's body is read and dropped. */
async function send(url, init = {}) {
  const res = await fetch(url, init);
  await res.arrayBuffer();
  return res;
}

/** Calls of every kind, at a rate that rises and falls, so the charts have a shape. */
async function traffic(server, clients) {
  const started = Date.now();
  for (let i = 0; Date.now() - started < TRAFFIC_MS; i++) {
    const wave = 1 + Math.round(4 * (1 + Math.sin((Date.now() - started) / 6000)));
    const calls = [];
    for (let j = 0; j < wave; j++) {
      const c = clients[(i + j) % clients.length];
      calls.push(send(`${c.gateway}/server/time`));
      calls.push(send(`${c.gateway}/server/cat//hello%20/world`));
      calls.push(send(`${c.gateway}/server/sum`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([i, j, 3]) }));
    }
    if (i % 7 === 0) calls.push(send(`${clients[0].gateway}/server/sum`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '"not numbers"' }));
    if (i % 11 === 0) calls.push(send(`${clients[1].gateway}/server/nothing`));
    if (i % 5 === 0) calls.push(send(`${server.gateway}/client/client/time`));
    if (i % 9 === 0) calls.push(send(`${clients[0].gateway}/server/client/time`));
    await Promise.all(calls);
    await sleep(200);
  }
}

/** A TLS hello with no client certificate: the server refuses it, and the page lists it. */
function refusedConnection(port) {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, servername: 'localhost' });
    const done = () => {
      socket.destroy();
      resolve();
    };
    socket.once('error', done);
    socket.once('close', done);
    socket.setTimeout(5000, done);
  });
}

function browserPath() {
  for (const name of ['chromium', 'chromium-browser']) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (found.status === 0) return found.stdout.trim();
  }
  throw new Error('chromium is not installed (apt-get install chromium)');
}

async function main() {
  initCa({ dir: CERTS });
  issue('server', { dir: CERTS, name: 'server' });
  for (const name of CLIENTS) issue('client', { dir: CERTS, name });
  const pipePort = await freePort();
  const server = await startNode('server', 'server', ['--listen', `127.0.0.1:${pipePort}`, '--crl', join(CERTS, 'ca.crl.pem'), '--handler', './examples/server-handler.ts']);
  const clients = [];
  for (const name of CLIENTS) clients.push(await startNode('client', name, ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost']));

  await traffic(server, clients);
  // Async jobs the server sends (one that succeeds), one deploy approved, one left waiting for a person.
  await send(`${server.gateway}/client/client/time`, { headers: { prefer: 'respond-async' } });
  await send(`${server.gateway}/client/edge-1/cat//a/b`, { headers: { prefer: 'respond-async' } });
  await send(`${clients[1].gateway}/server/deploy//v1.4.1`, { method: 'POST', headers: { prefer: 'respond-async' } });
  let first;
  await until(async () => (first = (await (await fetch(`${server.gateway}/_rp/holds?status=pending&limit=1`)).json())[0]), 'the first hold');
  await send(`${server.gateway}/_rp/holds/${first.hold}/approve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"reason":"change 42"}' });
  await send(`${clients[0].gateway}/server/deploy//v1.5.0`, { method: 'POST', headers: { prefer: 'respond-async' } });
  // edge-2 leaves (a job for it waits, queued); a stranger without a certificate is refused.
  const gone = clients.pop();
  gone.child.kill('SIGTERM');
  await new Promise((resolve) => gone.child.once('exit', resolve));
  await send(`${server.gateway}/client/edge-2/time`, { headers: { prefer: 'respond-async' } });
  await refusedConnection(pipePort);

  const profile = join(WORK, 'profile');
  mkdirSync(profile);
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: browserPath(),
    headless: true,
    chromiumSandbox: process.getuid?.() !== 0,
    args: ['--disable-dev-shm-usage', '--no-first-run'],
    viewport: { width: 1280, height: 800 },
  });
  try {
    const page = await context.newPage();
    const problems = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e}`));
    await page.goto(`${server.gateway}/_rp/ui`);
    await page.waitForFunction(() => document.querySelector('#conn-state')?.textContent?.trim() === 'live', null, { timeout: 15_000 });
    await page.locator('#clients tr[data-client="edge-2"]').waitFor({ timeout: 15_000 });
    await page.locator('#holds button.approve').first().waitFor({ timeout: 15_000 });
    // Two more ticks: the charts draw from the tick after the first.
    await page.waitForTimeout(2500);
    mkdirSync(dirname(opts.out), { recursive: true });
    await page.screenshot({ path: opts.out });
    await page.screenshot({ path: join(tmpdir(), 'dashboard-full.png'), fullPage: true });
    console.log(`wrote ${opts.out} (1280x800) and ${join(tmpdir(), 'dashboard-full.png')} (full page)`);

    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(1200);
    const phone = join(tmpdir(), 'dashboard-phone.png');
    await page.screenshot({ path: phone, fullPage: true });
    const overflow = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth }));
    console.log(`wrote ${phone} (390x844, full page); page width ${overflow.scrollWidth} for a ${overflow.clientWidth} px viewport${overflow.scrollWidth > overflow.clientWidth ? ': it overflows sideways' : ''}`);
    for (const problem of problems) console.log(problem);
  } finally {
    await context.close();
  }
}

try {
  await main();
} finally {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  rmSync(WORK, { recursive: true, force: true });
}
