/**
 * Issue 17 (SPEC §13), attacked from outside: what a peer with a valid certificate, a node
 * restarted in a container, or an odd request does to the dashboard. Real rp-server and
 * rp-client processes over real mutual TLS, a raw pipe peer (test/helpers/raw-peer.ts) that
 * sends frames the real client never would, and a real chromium for what the page shows.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueCertificate } from '@restpipe/certs';
import { PROTOCOL_VERSION } from '@restpipe/core';
import { afterAll, describe, expect, it } from 'vitest';
import { hasChromium, launchBrowser, type BrowserSession } from './helpers/browser.js';
import { BIN } from './helpers/cli.js';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { RawPeer } from './helpers/raw-peer.js';
import { forgetProcess, reapProcess } from './helpers/reaper.js';
import { waitFor } from './helpers/wait.js';

const MiB = 1024 * 1024;
const KEY = 'hostile-dashboard-key-5d1e';
const LIVE_TIMEOUT_MS = 15_000;

/** A handler as an operator writes one: `guarded/...` waits for approval, with a reason of its own. */
const HOLDER_HANDLER = `
import { EventHandler, hold } from 'restpipe';
export class Holder extends EventHandler {
  authorize(ctx) {
    return ctx.noun[0] === 'guarded' ? hold({ reason: 'needs a human', ttlMs: 3_600_000 }) : true;
  }
  post_guarded_run() { return { ran: true }; }
  get_time() { return { time_from_server: Date.now() / 1000 }; }
}
`;

function holderArgs(certs: CertDir, dataName: string): string[] {
  const file = join(certs.dir, 'holder-handler.ts');
  writeFileSync(file, HOLDER_HANDLER);
  return ['--handler', `${file}#Holder`, '--data-dir', join(certs.dir, 'data', dataName)];
}

/** The first message of `/_rp/stream`, as bytes read (the whole message, however big), then the stream is dropped. */
async function firstTick(gateway: string, headers: Record<string, string> = {}): Promise<{ bytes: number; tick: any }> {
  const res = await fetch(`${gateway}/_rp/stream`, { headers, signal: AbortSignal.timeout(60_000) });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const chunks: Buffer[] = [];
  let bytes = 0;
  let previousLast = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the stream ended before its first message');
      const chunk = Buffer.from(value);
      chunks.push(chunk);
      bytes += chunk.length;
      // The message ends at its first blank line; only the new bytes (and the one before) need a look.
      const end = (previousLast === 0x0a && chunk[0] === 0x0a) || chunk.includes('\n\n');
      previousLast = chunk[chunk.length - 1]!;
      if (end) break;
      if (bytes > 256 * MiB) throw new Error('no end of message within 256 MiB');
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const message = text.slice(0, text.indexOf('\n\n'));
  const data = message.split('\n').find((line) => line.startsWith('data: '))!.slice('data: '.length);
  return { bytes: Buffer.byteLength(message), tick: JSON.parse(data) };
}

function helloWithHolds(peer: RawPeer): void {
  peer.send({ kind: 'hello', hello: { protocolVersion: PROTOCOL_VERSION, software: 'hostile', heartbeatMs: 60_000, maxEventBytes: 1 << 24, maxInFlight: 16, maxConcurrency: 4, maxInboundBytes: 0, holds: true } });
}

/**
 * rp-server in a PID namespace of its own, so that it is pid 1 in every life, as the entry
 * point of a container is. Without root, a user namespace makes that possible.
 */
function startServerAsPid1(certs: CertDir, gatewayPort: number, pipePort: number, dataName: string): ChildProcess & { output: () => string } {
  const namespace = process.getuid?.() === 0 ? ['--pid', '--fork', '--kill-child'] : ['--user', '--map-root-user', '--pid', '--fork', '--kill-child'];
  const child = spawn('unshare', [
    ...namespace, process.execPath, BIN.server,
    '--cert', certs.path('server', 'crt'), '--key', certs.path('server', 'key'), '--ca', certs.path('ca', 'crt'),
    '--gateway', `127.0.0.1:${gatewayPort}`, '--listen', `127.0.0.1:${pipePort}`, '--statsd', 'off',
    ...holderArgs(certs, dataName),
  ], { cwd: certs.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  reapProcess(child.pid!);
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  return Object.assign(child, { output: () => text });
}

async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
  if (child.pid) forgetProcess(child.pid);
}

describe('SPEC §13 the dashboard against a hostile peer', () => {
  const nodes: NodeProcess[] = [];
  const peers: RawPeer[] = [];
  afterAll(async () => {
    for (const peer of peers) peer.destroy();
    await Promise.all(nodes.map((node) => node.stop()));
  }, 30_000);

  it('held events whose args are a megabyte each: a tick stays under 1 MiB, still lists every hold, and the node keeps answering', async () => {
    const certs = new CertDir([]);
    const pipePort = await freePort();
    const server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, ...holderArgs(certs, 'server')]);
    nodes.push(server);
    // A client with a valid certificate, whose frames carry args no real client would send
    // (a real one keeps an event's fields within 32 KiB; the frame's room is --max-event-bytes).
    const peer = await RawPeer.connect(pipePort, issueCertificate(certs.ca, 'client', { name: 'holder' }), certs.ca.certPem);
    peers.push(peer);
    helloWithHolds(peer);
    await waitFor(() => peer.frames.some((f) => f.kind === 'helloAck') || peer.closed, 'the HelloAck');
    const MB_ARG = 'A'.repeat(1_000_000);
    for (let id = 1; id <= 20 && !peer.closed; id++) {
      peer.send({ kind: 'event', event: { id, verb: 'post', noun: ['guarded', 'run'], args: [`${MB_ARG}${id}`], query: [], mimeType: '', data: new Uint8Array(), timeoutMs: 10_000, requestId: `big-hold-${id}` } });
      // Held (or refused): either way the server has answered, or closed the connection.
      await waitFor(() => peer.closed || peer.frames.some((f) => f.kind === 'reply' && f.reply.id === id), `an answer to event ${id}`);
    }
    const holds = (await (await fetch(`${server.gateway}/_rp/holds?limit=1000`)).json()) as Array<{ hold: string }>;

    const { bytes, tick } = await firstTick(server.gateway);
    // Today each of the 50 newest holds goes whole into every tick, every second, to every
    // page: 20 MB here, which the page's SSE parser refuses (16 MiB) and a few watchers turn into GBs.
    expect(bytes).toBeLessThan(MiB);
    expect(tick.holds.list.map((h: { hold: string }) => h.hold).sort()).toEqual(holds.map((h) => h.hold).sort());
    expect((await fetch(`${server.gateway}/_rp/health`)).status).toBe(200);
    expect(server.exitCode).toBeNull();
  }, 90_000);

  it('HEAD /_rp/ui is open as GET /_rp/ui (and HEAD /_rp/ui/) are, with the same CSP', async () => {
    const certs = new CertDir([]);
    const keyFile = join(certs.dir, 'api-key');
    writeFileSync(keyFile, `${KEY}\n`);
    chmodSync(keyFile, 0o600);
    const server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${await freePort()}`, '--api-key-file', keyFile]);
    nodes.push(server);
    const get = await fetch(`${server.gateway}/_rp/ui`);
    await get.arrayBuffer();
    expect(get.status).toBe(200);
    const headSlash = await fetch(`${server.gateway}/_rp/ui/`, { method: 'HEAD' });
    expect(headSlash.status).toBe(200);
    // Today: 401, as if /_rp/ui were a data route (it has no HEAD route, so the key is asked for).
    const head = await fetch(`${server.gateway}/_rp/ui`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toMatch(/^text\/html/);
    expect(head.headers.get('content-security-policy')).toBe(get.headers.get('content-security-policy'));
    // The data routes stay closed, HEAD or GET.
    const events = await fetch(`${server.gateway}/_rp/events`, { method: 'HEAD' });
    expect(events.status).not.toBe(200);
  });
});

/** Whether this machine lets us make a PID namespace (a container may not: then the restart test has nothing to stand on). */
function canUnshare(): boolean {
  const namespace = process.getuid?.() === 0 ? ['--pid', '--fork'] : ['--user', '--map-root-user', '--pid', '--fork'];
  const ok = spawnSync('unshare', [...namespace, 'true']).status === 0;
  if (!ok) console.warn('dashboard-hostile: unshare cannot make a PID namespace here; the same-pid restart test is skipped');
  return ok;
}

describe.runIf(hasChromium() && canUnshare())('SPEC §13 the live page across a restart with the same pid (a container\'s pid 1)', () => {
  let browser: BrowserSession | undefined;
  const children: ChildProcess[] = [];
  const nodes: NodeProcess[] = [];
  afterAll(async () => {
    await browser?.close();
    for (const child of children) await killHard(child);
    await Promise.all(nodes.map((node) => node.stop()));
  }, 30_000);

  it('shows the events of the new life, not the old one\'s', async () => {
    const certs = new CertDir(['node-a']);
    mkdirSync(join(certs.dir, 'data'), { recursive: true });
    const [gatewayPort, pipePort] = [await freePort(), await freePort()];
    const gateway = `http://127.0.0.1:${gatewayPort}`;
    const ready = (child: ChildProcess & { output: () => string }) => waitFor(() => {
      if (child.exitCode !== null) throw new Error(`rp-server exited ${child.exitCode}: ${child.output()}`);
      return child.output().includes('"msg":"rp-server ready"');
    }, 'rp-server (pid 1) to be ready', 20_000);

    let server = startServerAsPid1(certs, gatewayPort, pipePort, 'life-1');
    children.push(server);
    await ready(server);
    const client = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost']);
    nodes.push(client);
    const pipeUp = () => waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`)).ok, 'the pipe to be up', 20_000);
    await pipeUp();
    const firstPid = (await firstTick(gateway)).tick.node.pid;

    browser = await launchBrowser();
    const w = await browser.open(`${gateway}/_rp/ui`);
    await w.page.waitForFunction(() => document.querySelector('#conn-state')?.textContent === 'live', null, { timeout: LIVE_TIMEOUT_MS });
    for (let i = 0; i < 3; i++) expect((await fetch(`${client.gateway}/server/time`, { headers: { 'x-request-id': `life1-${i}` } })).status).toBe(200);
    await w.page.locator('#calls tr[data-request-id="life1-2"]').waitFor({ timeout: LIVE_TIMEOUT_MS });

    await killHard(server);
    server = startServerAsPid1(certs, gatewayPort, pipePort, 'life-2');
    children.push(server);
    await ready(server);
    await pipeUp();
    // The precondition of the attack: the new life has the old one's pid.
    expect((await firstTick(gateway)).tick.node.pid).toBe(firstPid);
    for (let i = 0; i < 3; i++) expect((await fetch(`${client.gateway}/server/time`, { headers: { 'x-request-id': `life2-${i}` } })).status).toBe(200);
    const onServer = (await (await fetch(`${gateway}/_rp/events`)).json()) as Array<{ requestId: string }>;
    expect(onServer.map((e) => e.requestId)).toEqual(['life2-2', 'life2-1', 'life2-0']);

    // The page reconnects by itself (its backoff is at most 10 s), then must show what the node
    // has now. Today it takes the new life's seq 1..3 (same name, same pid) for the old life's,
    // already shown, and drops them: live, and showing only the previous life's calls.
    await w.page.waitForFunction(() => document.querySelector('#conn-state')?.textContent === 'live', null, { timeout: 30_000 });
    await w.page.locator('#calls tr[data-request-id="life2-2"]').waitFor({ timeout: LIVE_TIMEOUT_MS });
    await w.page.locator('#calls tr[data-request-id="life1-0"]').waitFor({ state: 'detached', timeout: LIVE_TIMEOUT_MS });
    expect(w.pageErrors).toEqual([]);
  }, 120_000);
});

