/**
 * Approval holds (SPEC §9): approve-to-reply latency, one approval at a time and 32 at
 * once, and the rate at which a node makes holds beside the same node's plain synchronous
 * call. One real `rp-server` (the holding node, bench/holds-handler.ts) and one real
 * `rp-client` (the sender), each with a fresh data directory, on loopback.
 *
 * Each latency runs from just before the approve POST to the moment the sender's job is
 * `succeeded`: the time on the sender's own `job ended` line, which it logs right after
 * committing the end (job-end-lines.ts). Both clocks are Date.now() on one machine, whole
 * ms: to within ±1 ms, with no poll interval and no polling load on the sender. A run that
 * polls `GET /_rp/jobs/ID` every 1 ms instead is kept beside it as a cross-check.
 */
import { rmSync } from 'node:fs';
import http from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { drive, type Drive } from './jetstream.js';
import { JobEndLines } from './job-end-lines.js';
import { freePort, median, percentile, sleep } from './lib.js';
import { freshDir, startCli, waitOk, type CliNode } from './cli-node.js';

export interface HoldsLatency {
  /** `c1` one approval at a time, `c32` 32 approvals at once. */
  concurrency: number;
  method: 'job ended line' | 'poll every 1 ms';
  holds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Jobs that ended other than `succeeded` (not counted in the figures). */
  failed: number;
}

export interface HoldsRate {
  target: string;
  connections: number;
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers other than the expected status (202 on hold, or 200), and socket errors. */
  errors: number;
}

export interface HoldsResult {
  holds: number;
  latency: HoldsLatency[];
  rates: HoldsRate[];
  /** The machine's 1-minute load average before and after: what else ran beside the bench. */
  loadAvg: { before: number; after: number };
}

export const HELD = 'held: sync POST answered 202 on_hold';
export const PLAIN = 'plain: sync POST to an un-held noun';
export const BY_LINE = 'job ended line';
export const BY_POLL = 'poll every 1 ms';

const HOLDS = Number(process.env['BENCH_HOLDS'] ?? 200);
const WAVE = 32;
const BODY = Buffer.from('{"n":1,"pad":"x"}');
const HELD_PATH = '/server/held/run';
const PLAIN_PATH = '/server/echo';
const END_TIMEOUT_MS = 30_000;


/** Keep-alive sockets enough for a wave of approvals, or of job views, at once. */
const agent = new http.Agent({ keepAlive: true, maxSockets: WAVE });

/** One request on a keep-alive socket; resolves its status and JSON body (or null). */
function request(url: string, method: string, body?: Buffer): Promise<{ status: number; json: any }> {
  const target = new URL(url);
  const headers = body ? { 'content-type': 'application/json', 'content-length': body.length } : {};
  return new Promise((resolve, reject) => {
    const req = http.request({ host: target.hostname, port: target.port, path: `${target.pathname}${target.search}`, method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json: any = null;
        try {
          json = text ? JSON.parse(text) : null;
        } catch {
          /* not JSON: the status tells */
        }
        resolve({ status: res.statusCode!, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Held {
  job: string;
  hold: string;
}

/** A synchronous POST to the held noun: 202 on_hold with its job and hold, or it throws. */
async function makeHold(gw: string): Promise<Held> {
  const res = await request(`${gw}${HELD_PATH}`, 'POST', BODY);
  if (res.status !== 202 || res.json?.status !== 'on_hold') throw new Error(`bench: a held POST answered ${res.status} ${JSON.stringify(res.json)}`);
  return { job: res.json.job as string, hold: res.json.hold as string };
}

async function makeHolds(gw: string, n: number): Promise<Held[]> {
  const made: Held[] = [];
  for (let i = 0; i < n; i++) made.push(await makeHold(gw));
  return made;
}

async function approve(serverGw: string, hold: string): Promise<void> {
  const res = await request(`${serverGw}/_rp/holds/${hold}/approve`, 'POST');
  if (res.status !== 200 || res.json?.status !== 'approved') throw new Error(`bench: approving ${hold} answered ${res.status} ${JSON.stringify(res.json)}`);
}

async function jobStatus(gw: string, job: string): Promise<string> {
  const res = await request(`${gw}/_rp/jobs/${job}`, 'GET');
  return String(res.json?.status);
}

/** Approve-to-reply by the sender's `job ended` line; undefined when the job ended other than succeeded. */
async function byLine(nodes: Nodes, h: Held): Promise<number | undefined> {
  const start = Date.now();
  const ended = nodes.ends.wait(h.job, END_TIMEOUT_MS);
  await approve(nodes.serverGw, h.hold);
  const end = await ended;
  // One clock, whole ms: a line stamped before the approve or after it was read would mean it is not.
  if (end.atMs < start - 1 || end.atMs > end.seenMs + 1) throw new Error(`bench: job ${h.job} ended at ${end.atMs}, outside ${start}..${end.seenMs}: the clocks disagree`);
  return end.status === 'succeeded' ? end.atMs - start : undefined;
}

/** The line follows the commit: by then each job's view must say `succeeded` too. Asked after the measuring, not during it. */
async function confirmed(nodes: Nodes, holds: Held[], ms: Array<number | undefined>): Promise<Array<number | undefined>> {
  const seen = await Promise.all(holds.map((h) => jobStatus(nodes.clientGw, h.job)));
  return ms.map((x, i) => (seen[i] === 'succeeded' ? x : undefined));
}

/** Approve-to-reply by polling the sender's job view every 1 ms: the cross-check. */
async function byPoll(nodes: Nodes, h: Held): Promise<number | undefined> {
  const start = performance.now();
  await approve(nodes.serverGw, h.hold);
  for (;;) {
    const status = await jobStatus(nodes.clientGw, h.job);
    if (status === 'succeeded') return performance.now() - start;
    if (status !== 'on_hold' && status !== 'queued' && status !== 'running') return undefined;
    if (performance.now() - start > END_TIMEOUT_MS) throw new Error(`bench: job ${h.job} not ended ${END_TIMEOUT_MS} ms after its approval`);
    await sleep(1);
  }
}

function stats(concurrency: number, method: HoldsLatency['method'], ms: Array<number | undefined>): HoldsLatency {
  const ok = Float64Array.from(ms.filter((x): x is number => x !== undefined)).sort();
  return { concurrency, method, holds: ms.length, p50Ms: percentile(ok, 50), p99Ms: percentile(ok, 99), maxMs: ok.at(-1) ?? NaN, failed: ms.length - ok.length };
}

/** `n` holds made first, then approved one at a time, each measured by `measure`. */
async function sequential(nodes: Nodes, n: number, measure: typeof byLine): Promise<Array<number | undefined>> {
  const holds = await makeHolds(nodes.clientGw, n);
  const ms: Array<number | undefined> = [];
  for (const h of holds) ms.push(...(await confirmed(nodes, [h], [await measure(nodes, h)])));
  return ms;
}

/** `n` holds (rounded up to whole waves) made first, then approved WAVE at once, each wave after the last has ended. */
async function waves(nodes: Nodes, n: number): Promise<Array<number | undefined>> {
  const holds = await makeHolds(nodes.clientGw, Math.ceil(n / WAVE) * WAVE);
  const ms: Array<number | undefined> = [];
  for (let i = 0; i < holds.length; i += WAVE) {
    const wave = holds.slice(i, i + WAVE);
    ms.push(...(await confirmed(nodes, wave, await Promise.all(wave.map((h) => byLine(nodes, h))))));
  }
  return ms;
}

async function latencies(nodes: Nodes): Promise<HoldsLatency[]> {
  process.stderr.write(`  holds: warm-up\n`);
  await waves(nodes, WAVE);
  await sequential(nodes, 16, byLine);
  process.stderr.write(`  holds: ${HOLDS} approvals one at a time\n`);
  const c1 = stats(1, BY_LINE, await sequential(nodes, HOLDS, byLine));
  process.stderr.write(`  holds: ${Math.ceil(HOLDS / WAVE) * WAVE} approvals, ${WAVE} at once\n`);
  const c32 = stats(WAVE, BY_LINE, await waves(nodes, HOLDS));
  process.stderr.write(`  holds: ${HOLDS} approvals one at a time, polled\n`);
  const polled = stats(1, BY_POLL, await sequential(nodes, HOLDS, byPoll));
  nodes.ends.clear();
  for (const l of [c1, c32, polled]) {
    process.stderr.write(`    c${l.concurrency} ${l.method}: p50 ${l.p50Ms.toFixed(1)} ms, p99 ${l.p99Ms.toFixed(1)} ms, max ${l.maxMs.toFixed(1)} ms${l.failed ? `, ${l.failed} failed` : ''}\n`);
  }
  return [c1, c32, polled];
}

function cannon(url: string, path: string, connections: number, seconds: number): Promise<any> {
  return autocannon({ url: `${url}${path}`, connections, method: 'POST', body: BODY, headers: { 'content-type': 'application/json' }, duration: seconds });
}

/** A load on `path` at `c`, counting any answer but `status` as an error. */
async function rate(gw: string, path: string, status: number, c: number, seconds: number): Promise<Drive> {
  if (c === 1) {
    return drive(1, seconds, async () => {
      const res = await request(`${gw}${path}`, 'POST', BODY);
      if (res.status !== status) throw new Error(`HTTP ${res.status}`);
    });
  }
  const r = await cannon(gw, path, c, seconds);
  const codes = (r.statusCodeStats ?? {}) as Record<string, { count: number }>;
  const wrong = Object.entries(codes).reduce((a, [code, s]) => a + (Number(code) === status ? 0 : s.count), 0);
  return { perSec: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, count: r.requests.total, errors: r.errors + wrong };
}

async function rates(gw: string, runs: number, seconds: number): Promise<HoldsRate[]> {
  const targets: Record<string, (c: number) => Promise<Drive>> = {
    [HELD]: (c) => rate(gw, HELD_PATH, 202, c, seconds),
    [PLAIN]: (c) => rate(gw, PLAIN_PATH, 200, c, seconds),
  };
  for (const go of Object.values(targets)) await go(8); // warm-up
  const samples = new Map<string, Drive[]>();
  for (let run = 0; run < runs; run++) {
    for (const connections of [WAVE, 1]) {
      for (const [target, go] of Object.entries(targets)) {
        const key = `${target}|${connections}`;
        const r = await go(connections);
        samples.set(key, [...(samples.get(key) ?? []), r]);
        process.stderr.write(`  holds run ${run + 1}: ${key}: ${Math.round(r.perSec)}/s, p50 ${r.p50Ms.toFixed(2)} ms${r.errors ? `, ${r.errors} errors` : ''}\n`);
      }
    }
  }
  return [...samples].map(([key, s]) => {
    const [target, connections] = key.split('|');
    return {
      target: target!, connections: Number(connections),
      perSec: median(s.map((x) => x.perSec)), p50Ms: median(s.map((x) => x.p50Ms)), p99Ms: median(s.map((x) => x.p99Ms)),
      errors: s.reduce((a, x) => a + x.errors, 0),
    };
  });
}

interface Nodes {
  serverGw: string;
  clientGw: string;
  ends: JobEndLines;
}

export async function holdsBench(certDir: string, runs: number, seconds: number): Promise<HoldsResult> {
  const [pipePort, serverPort, clientPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const tls = ['--ca', join(certDir, 'ca.crt.pem'), '--statsd', 'off'];
  const dataDir = freshDir('holds');
  const server = startCli('rp-server.js', ['--listen', `127.0.0.1:${pipePort}`, '--gateway', `127.0.0.1:${serverPort}`, '--handler', './bench/holds-handler.ts',
    '--cert', join(certDir, 'server.crt.pem'), '--key', join(certDir, 'server.key.pem'), '--data-dir', join(dataDir, 'server'), ...tls], 'ignore');
  // The rate loads leave their holds pending: room for all of them.
  const client = startCli('rp-client.js', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', '--gateway', `127.0.0.1:${clientPort}`,
    '--cert', join(certDir, 'client.crt.pem'), '--key', join(certDir, 'client.key.pem'), '--data-dir', join(dataDir, 'client'), '--max-jobs', '10000000', ...tls], 'pipe');
  const nodes: Nodes = { serverGw: `http://127.0.0.1:${serverPort}`, clientGw: `http://127.0.0.1:${clientPort}`, ends: new JobEndLines(client.proc.stdout!) };
  const before = loadavg()[0]!;
  try {
    await waitOk(`${nodes.serverGw}/_rp/ready`, server);
    await waitOk(`${nodes.clientGw}/_rp/ready`, client);
    const latency = await latencies(nodes);
    const loads = await rates(nodes.clientGw, runs, seconds);
    return { holds: HOLDS, latency, rates: loads, loadAvg: { before, after: loadavg()[0]! } };
  } finally {
    server.proc.kill('SIGKILL');
    client.proc.kill('SIGKILL');
    agent.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
