import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import http from 'node:http';
import { child, freePort, median, percentile, ROOT, sleep } from './lib.js';
import { startNats } from './nats.js';
import { sshMissing, startSshTunnel } from './ssh.js';

export interface LoadResult {
  target: string;
  payload: string;
  connections: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  mbPerSec: number;
  errors: number;
}

export interface Payload {
  name: string;
  path: string;
  body?: Buffer;
}

const PAYLOADS: Payload[] = [
  { name: 'tiny GET', path: '/server/time' },
  { name: '64 KiB echo', path: '/server/echo', body: Buffer.alloc(64 * 1024, 0x61) },
  { name: '1 MiB echo', path: '/server/echo', body: Buffer.alloc(1024 * 1024, 0x62) },
];

/** autocannon on one payload: a POST of its body, or a GET. */
export function load(url: string, payload: Payload, connections: number, seconds: number): Promise<autocannon.Result> {
  return autocannon({
    url: url + payload.path,
    connections,
    duration: seconds,
    method: payload.body ? 'POST' : 'GET',
    ...(payload.body ? { body: payload.body, headers: { 'content-type': 'application/octet-stream' } } : {}),
  });
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One request at a time, timed to the microsecond: autocannon reports whole milliseconds. */
async function sequential(url: string, payload: Payload, seconds: number): Promise<{ p50: number; p99: number }> {
  const target = new URL(url + payload.path);
  const once = (): Promise<void> => new Promise((resolve, reject) => {
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, agent: keepAlive, method: payload.body ? 'POST' : 'GET',
      headers: payload.body ? { 'content-type': 'application/octet-stream', 'content-length': payload.body.length } : {} }, (res) => {
      res.on('data', () => {});
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(payload.body);
  });
  const times: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t = performance.now();
    await once();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

function startCli(bin: string, args: string[]): ChildProcess {
  return spawn(process.execPath, [join(ROOT, 'packages/cli/bin', bin), ...args], { cwd: ROOT, stdio: 'ignore' });
}

async function waitOk(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await sleep(100);
  }
  throw new Error(`bench: ${url} never came up`);
}

/**
 * The client gateway -> pipe -> server handler -> back, against a bare Fastify
 * answering the same routes. Scenarios alternate within each run; medians of runs.
 */
export async function fullPath(certDir: string, runs: number, seconds: number): Promise<LoadResult[]> {
  const [barePort, pipePort, serverGw, clientGw] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const bare = await child('bare-fastify', [String(barePort)]);
  const tls = ['--ca', join(certDir, 'ca.crt.pem'), '--statsd', 'off'];
  const server = startCli('rp-server.js', ['--listen', `127.0.0.1:${pipePort}`, '--gateway', `127.0.0.1:${serverGw}`, '--handler', './examples/server-handler.ts',
    '--cert', join(certDir, 'server.crt.pem'), '--key', join(certDir, 'server.key.pem'), ...tls]);
  const client = startCli('rp-client.js', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', '--gateway', `127.0.0.1:${clientGw}`,
    '--cert', join(certDir, 'client.crt.pem'), '--key', join(certDir, 'client.key.pem'), ...tls]);
  const nats = await startNats(certDir);
  if (!nats) process.stderr.write('  NATS skipped: nats-server is not installed (apt-get install nats-server)\n');
  const targets: Record<string, string> = { 'bare Fastify': `http://127.0.0.1:${barePort}`, restpipe: `http://127.0.0.1:${clientGw}` };
  if (nats) targets['NATS (mTLS)'] = nats.url;
  const ssh = await startSshTunnel();
  if (!ssh) process.stderr.write(`  ssh -R skipped: ${sshMissing()}\n`);
  if (ssh) targets['ssh -R'] = ssh.url;
  try {
    await waitOk(`${targets.restpipe}/_rp/ready`);
    for (const url of Object.values(targets)) await load(url, PAYLOADS[0]!, 8, 1); // warm-up
    const samples = new Map<string, autocannon.Result[]>();
    for (let run = 0; run < runs; run++) {
      for (const payload of PAYLOADS) {
        for (const connections of [1, 64]) {
          for (const [target, url] of Object.entries(targets)) {
            const key = `${target}|${payload.name}|${connections}`;
            const result = await load(url, payload, connections, seconds);
            if (connections === 1) {
              // At c1 the latency columns come from a precise sequential loop of their own.
              const precise = await sequential(url, payload, seconds);
              result.latency.p50 = precise.p50;
              result.latency.p99 = precise.p99;
            }
            samples.set(key, [...(samples.get(key) ?? []), result]);
            process.stderr.write(`  full path run ${run + 1}: ${key}: ${Math.round(result.requests.average)} req/s\n`);
          }
        }
      }
    }
    return [...samples].map(([key, results]) => {
      const [target, payload, connections] = key.split('|');
      return {
        target: target!, payload: payload!, connections: Number(connections),
        reqPerSec: median(results.map((r) => r.requests.average)),
        p50Ms: median(results.map((r) => r.latency.p50)),
        p99Ms: median(results.map((r) => r.latency.p99)),
        mbPerSec: median(results.map((r) => r.throughput.average / 1e6)),
        errors: results.reduce((a, r) => a + r.errors + r.non2xx, 0),
      };
    });
  } finally {
    server.kill('SIGKILL');
    client.kill('SIGKILL');
    await bare.stop();
    await nats?.stop();
    await ssh?.stop();
  }
}
