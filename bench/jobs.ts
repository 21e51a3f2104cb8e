/**
 * Durable async jobs (SPEC §8): `Prefer: respond-async` accepts on a client
 * gateway with `--data-dir` against the same node's synchronous tiny call and
 * against NATS JetStream publishing to a file-storage stream, side by side in one
 * run; then end-to-end job throughput, and the idle CPU the store adds.
 */
import { rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { drive, publish, startJetStream, type Drive, type JetStreamSetup } from './jetstream.js';
import { freePort, median, procCpuMs, sleep } from './lib.js';
import { freshDir, startCli, waitOk, type CliNode } from './cli-node.js';

export interface JobsLoad {
  target: string;
  connections: number;
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export interface JobsResult {
  loads: JobsLoad[];
  /** null when nats-server is not installed. */
  jetstream: { version: string; syncAlways: boolean; note: string } | null;
  /** `failed`: of the jobs queued, how many ended failed, expired or cancelled (counted among the newest 1,000 of each). */
  endToEnd: { jobs: number; acceptSeconds: number; totalSeconds: number; jobsPerSec: number; failed: number; errors: number };
  idle: { seconds: number; queuedJobs: number; withStoreCpuMs: number; withoutStoreCpuMs: number };
}

export const ACCEPT = 'restpipe accept (202)';
/** The same accepts on a client whose server is away: the group commit alone, no delivery beside it. */
export const ACCEPT_AWAY = 'restpipe accept (202), peer away';
export const SYNC = 'restpipe sync tiny';
export const JETSTREAM = 'JetStream publish (file)';

const BODY = Buffer.from('{"n":1,"pad":"x"}');
const ASYNC = { prefer: 'respond-async' };
const E2E_JOBS = Number(process.env['BENCH_JOBS'] ?? 5000);
const IDLE_JOBS = 1000;
const IDLE_SECONDS = Number(process.env['BENCH_IDLE_SECONDS'] ?? 10);


function load(url: string, connections: number, seconds: number, headers: Record<string, string> = {}, amount?: number): Promise<autocannon.Result> {
  return autocannon({
    url: `${url}/server/echo`, connections, method: 'POST', body: BODY,
    headers: { 'content-type': 'application/json', ...headers },
    ...(amount ? { amount } : { duration: seconds }),
  });
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One POST on a keep-alive socket; rejects unless 2xx. */
function once(url: string, headers: Record<string, string>): Promise<void> {
  const target = new URL(`${url}/server/echo`);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent: keepAlive,
      headers: { 'content-type': 'application/json', 'content-length': BODY.length, ...headers } }, (res) => {
      res.on('data', () => {});
      res.on('end', () => (res.statusCode! < 300 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(BODY);
  });
}

async function json(url: string): Promise<unknown> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`bench: GET ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** The jobs `GET /_rp/jobs?status=S&limit=N` lists, newest first (limit at most 1,000). */
function listJobs(gw: string, status: string, limit: number): Promise<Array<{ job: string; createdAt: string }>> {
  return json(`${gw}/_rp/jobs?status=${status}&limit=${limit}`) as Promise<Array<{ job: string; createdAt: string }>>;
}

/** Polls (sparsely: one-row queries) until no job is queued, running or on hold; returns the ms it took. */
async function drained(gw: string, timeoutMs = 300_000): Promise<number> {
  const start = performance.now();
  for (;;) {
    // on_hold (SPEC §9) may not be listable yet; queued and running must be.
    const busy = await Promise.all([listJobs(gw, 'queued', 1), listJobs(gw, 'running', 1), listJobs(gw, 'on_hold', 1).catch(() => [])]);
    if (busy.every((l) => l.length === 0)) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`bench: jobs not drained in ${timeoutMs} ms`);
    await sleep(50);
  }
}

const fromCannon = (r: autocannon.Result): Drive => ({
  perSec: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, count: r.requests.total, errors: r.errors + r.non2xx,
});

/** Queues E2E_JOBS jobs at c32 and times until none is left unfinished. */
async function endToEnd(gw: string): Promise<JobsResult['endToEnd']> {
  const wallStart = Date.now();
  const start = performance.now();
  const queued = await load(gw, 32, 0, ASYNC, E2E_JOBS);
  const accepted = performance.now();
  await drained(gw);
  const total = (performance.now() - start) / 1000;
  const ended = await Promise.all(['failed', 'expired', 'cancelled'].map((status) => listJobs(gw, status, 1000)));
  const failed = ended.flat().filter((j) => Date.parse(j.createdAt) >= wallStart).length;
  return { jobs: E2E_JOBS, acceptSeconds: (accepted - start) / 1000, totalSeconds: total, jobsPerSec: E2E_JOBS / total, failed, errors: queued.errors + queued.non2xx };
}

/**
 * Two client nodes whose server is offline, one with `--data-dir` holding IDLE_JOBS
 * waiting jobs, one with `--data-dir off`: the CPU each uses over IDLE_SECONDS of idleness.
 */
async function idleCpu(tls: string[], certDir: string): Promise<JobsResult['idle']> {
  const [nobody, gwA, gwB] = await Promise.all([freePort(), freePort(), freePort()]);
  const dir = freshDir('idle');
  const args = (gw: number) => ['--server', `127.0.0.1:${nobody}`, '--server-name', 'localhost', '--gateway', `127.0.0.1:${gw}`,
    '--cert', join(certDir, 'client.crt.pem'), '--key', join(certDir, 'client.key.pem'), ...tls];
  const withStore = startCli('rp-client.js', [...args(gwA), '--data-dir', dir]);
  const without = startCli('rp-client.js', [...args(gwB), '--data-dir', 'off']);
  try {
    await Promise.all([waitOk(`http://127.0.0.1:${gwA}/_rp/health`, withStore), waitOk(`http://127.0.0.1:${gwB}/_rp/health`, without)]);
    const queued = await load(`http://127.0.0.1:${gwA}`, 32, 0, ASYNC, IDLE_JOBS);
    if (queued.non2xx || queued.errors) throw new Error(`bench: ${queued.non2xx + queued.errors} of ${IDLE_JOBS} jobs for an offline peer not accepted`);
    await sleep(2000);
    const before = [procCpuMs(withStore.proc.pid!), procCpuMs(without.proc.pid!)];
    await sleep(IDLE_SECONDS * 1000);
    const after = [procCpuMs(withStore.proc.pid!), procCpuMs(without.proc.pid!)];
    return { seconds: IDLE_SECONDS, queuedJobs: IDLE_JOBS, withStoreCpuMs: after[0]! - before[0]!, withoutStoreCpuMs: after[1]! - before[1]! };
  } finally {
    withStore.proc.kill('SIGKILL');
    without.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function jobsBench(certDir: string, runs: number, seconds: number): Promise<JobsResult> {
  const [pipePort, serverGw, clientGw] = await Promise.all([freePort(), freePort(), freePort()]);
  const tls = ['--ca', join(certDir, 'ca.crt.pem'), '--statsd', 'off'];
  const dataDir = freshDir('jobs');
  // The server keeps a store too, as by default: it runs each delivered job once by its idempotency key.
  const server = startCli('rp-server.js', ['--listen', `127.0.0.1:${pipePort}`, '--gateway', `127.0.0.1:${serverGw}`, '--handler', './examples/server-handler.ts',
    '--cert', join(certDir, 'server.crt.pem'), '--key', join(certDir, 'server.key.pem'), '--data-dir', join(dataDir, 'server'), ...tls]);
  const client = startCli('rp-client.js', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', '--gateway', `127.0.0.1:${clientGw}`,
    '--cert', join(certDir, 'client.crt.pem'), '--key', join(certDir, 'client.key.pem'), '--data-dir', join(dataDir, 'client'), ...tls]);
  const gw = `http://127.0.0.1:${clientGw}`;
  const [nobody, awayPort] = await Promise.all([freePort(), freePort()]);
  const away = startCli('rp-client.js', ['--server', `127.0.0.1:${nobody}`, '--server-name', 'localhost', '--gateway', `127.0.0.1:${awayPort}`,
    '--cert', join(certDir, 'client.crt.pem'), '--key', join(certDir, 'client.key.pem'), '--data-dir', join(dataDir, 'away'), '--max-jobs', '10000000', ...tls]);
  const awayGw = `http://127.0.0.1:${awayPort}`;
  let js: JetStreamSetup | undefined;
  try {
    js = await startJetStream();
    if (!js) process.stderr.write('  JetStream anchor skipped: nats-server is not installed (apt-get install nats-server)\n');
    else process.stderr.write(`  JetStream: ${js.syncNote}\n`);
    await waitOk(`${gw}/_rp/ready`, client);
    await waitOk(`${awayGw}/_rp/health`, away);
    const probe = await fetch(`${gw}/server/echo`, { method: 'POST', body: BODY, headers: { 'content-type': 'application/json', ...ASYNC } });
    if (probe.status !== 202) throw new Error(`bench: Prefer: respond-async answered ${probe.status}, not 202: ${await probe.text()}`);
    const targets: Record<string, (c: number) => Promise<Drive>> = {
      [ACCEPT]: async (c) => {
        const r = c === 1 ? await drive(1, seconds, () => once(gw, ASYNC)) : fromCannon(await load(gw, c, seconds, ASYNC));
        const ms = await drained(gw); // the deliveries of these accepts must not overlap the next load
        process.stderr.write(`    (${r.count} accepted jobs delivered ${(ms / 1000).toFixed(1)} s after the load)\n`);
        return r;
      },
      [ACCEPT_AWAY]: async (c) => (c === 1 ? drive(1, seconds, () => once(awayGw, ASYNC)) : fromCannon(await load(awayGw, c, seconds, ASYNC))),
      [SYNC]: async (c) => (c === 1 ? drive(1, seconds, () => once(gw, {})) : fromCannon(await load(gw, c, seconds))),
    };
    if (js) targets[JETSTREAM] = (c) => publish(js!, c, seconds, BODY);
    for (const run of Object.values(targets)) await run(8); // warm-up
    const samples = new Map<string, Drive[]>();
    for (let run = 0; run < runs; run++) {
      for (const connections of [32, 1]) {
        for (const [target, go] of Object.entries(targets)) {
          const key = `${target}|${connections}`;
          const r = await go(connections);
          samples.set(key, [...(samples.get(key) ?? []), r]);
          process.stderr.write(`  jobs run ${run + 1}: ${key}: ${Math.round(r.perSec)}/s, p50 ${r.p50Ms.toFixed(2)} ms${r.errors ? `, ${r.errors} errors` : ''}\n`);
        }
      }
    }
    process.stderr.write(`  jobs: end to end, ${E2E_JOBS} jobs\n`);
    const e2e = await endToEnd(gw);
    process.stderr.write(`  jobs: idle CPU, ${IDLE_SECONDS} s\n`);
    const idle = await idleCpu(tls, certDir);
    const loads = [...samples].map(([key, s]) => {
      const [target, connections] = key.split('|');
      return {
        target: target!, connections: Number(connections),
        perSec: median(s.map((x) => x.perSec)), p50Ms: median(s.map((x) => x.p50Ms)), p99Ms: median(s.map((x) => x.p99Ms)),
        errors: s.reduce((a, x) => a + x.errors, 0),
      };
    });
    return { loads, jetstream: js ? { version: js.version, syncAlways: js.syncAlways, note: js.syncNote } : null, endToEnd: e2e, idle };
  } finally {
    server.proc.kill('SIGKILL');
    client.proc.kill('SIGKILL');
    away.proc.kill('SIGKILL');
    await js?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
