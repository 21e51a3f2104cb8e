/**
 * The cluster part (SPEC §11, issue 15), all real processes on loopback: three nats-servers
 * in a routed cluster and three `rp-server --cluster` nodes n0..n2 (bench/cluster-nodes.ts).
 *
 * 1. Same node against cross node: one real `rp-client` named `client` is connected to n0.
 *    The same loads go through n0's gateway (the same node: gateway -> pipe -> client) and
 *    through n1's (cross node: n1 -> its nats-server -> route -> n0's nats-server -> n0 -> pipe
 *    -> client and back), alternating which goes first, for a tiny GET and a 64 KiB echo at
 *    c1 and c32. At c1 the latency columns come from a sequential keep-alive loop timed with
 *    `performance.now()` (autocannon reports whole ms), as in the full-path part.
 * 2. 3 nodes against 1 node, 300 clients (bench/cluster-aggregate.ts).
 */
import http from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { aggregateBench, AGGREGATE_CLIENTS, type AggregateResult, type Cannon } from './cluster-aggregate.js';
import { cpuMeter, medianReading, SELF, type CpuReading } from './cluster-cpu.js';
import { clusterPids, natsHomes, QUIET, settle, startClusterNodes, waitForClient, type ClusterNodes, type RpNode } from './cluster-nodes.js';
import { startCli, type CliNode } from './cli-node.js';
import { load, type Payload } from './full-path.js';
import { benchCerts, median, percentile } from './lib.js';

export const SAME = 'same node';
export const CROSS = 'cross node';
export type Route = typeof SAME | typeof CROSS;

export interface PathResult {
  route: Route;
  payload: string;
  connections: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Answers other than 200, and socket errors, over all runs. */
  errors: number;
  /** Each process's share of the load's wall time (autocannon and, at c1, the sequential loop), medians of runs. */
  cpu: CpuReading;
  /** Every run's figures, in order, to show the spread on a shared machine. */
  runs: Array<{ reqPerSec: number; p50Ms: number; p99Ms: number; otherCores: number }>;
}

export interface ClusterResult {
  /** The nats-server each node was connected to (from /connz), by node id. */
  natsOf: Record<string, number>;
  paths: PathResult[];
  aggregate: AggregateResult[];
  /** The machine's 1-minute load average before and after: what else ran beside the bench. */
  loadAvg: { before: number; after: number };
}

export const TINY = 'tiny GET';
export const ECHO = '64 KiB echo';
export const CONNECTIONS = [1, 32] as const;

/** The client's handler is examples/server-handler.ts: `get_time` and `post_echo`, as the full-path part's server has. */
const PAYLOADS: Payload[] = [
  { name: TINY, path: '/client/client/time' },
  { name: ECHO, path: '/client/client/echo', body: Buffer.alloc(64 * 1024, 0x61) },
];

function cannon(url: string, payload: Payload, connections: number, seconds: number): Promise<Cannon> {
  return load(url, payload, connections, seconds);
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });

function once(target: URL, payload: Payload): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = payload.body ? { 'content-type': 'application/octet-stream', 'content-length': payload.body.length } : {};
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, agent: keepAlive, method: payload.body ? 'POST' : 'GET', headers }, (res) => {
      res.on('data', () => {});
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(payload.body);
  });
}

/** One request at a time for `seconds`, each timed to the microsecond. */
async function sequential(url: string, payload: Payload, seconds: number): Promise<{ p50: number; p99: number; errors: number }> {
  const target = new URL(url + payload.path);
  const times: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t = performance.now();
    const status = await once(target, payload).catch(() => 0);
    times.push(performance.now() - t);
    if (status !== 200) errors += 1;
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), errors };
}

interface Sample {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  cpu: CpuReading;
}

async function measure(url: string, payload: Payload, connections: number, seconds: number, pids: Record<string, number | typeof SELF>): Promise<Sample> {
  const read = cpuMeter(pids);
  const r = await cannon(url, payload, connections, seconds);
  const sample = { reqPerSec: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors: r.errors + r.non2xx };
  if (connections !== 1) return { ...sample, cpu: read() };
  const precise = await sequential(url, payload, seconds);
  return { ...sample, p50Ms: precise.p50, p99Ms: precise.p99, errors: sample.errors + precise.errors, cpu: read() };
}

/** Part 1: the same loads through n0 (the client's node) and n1, alternating which goes first. */
async function paths(cluster: ClusterNodes, client: CliNode, runs: number, seconds: number): Promise<PathResult[]> {
  const nodes = cluster.nodes;
  const gateways: Record<Route, string> = { [SAME]: nodes[0]!.gateway, [CROSS]: nodes[1]!.gateway };
  const pids: Record<string, number | typeof SELF> = { 'bench process (autocannon)': SELF, ...clusterPids(cluster), 'rp-client client': client.proc.pid! };
  for (const payload of PAYLOADS) for (const url of Object.values(gateways)) await cannon(url, payload, 8, 1); // warm-up
  const samples = new Map<string, Sample[]>();
  let turn = 0;
  for (let run = 0; run < runs; run++) {
    for (const payload of PAYLOADS) {
      for (const connections of CONNECTIONS) {
        const order: Route[] = turn++ % 2 === 0 ? [SAME, CROSS] : [CROSS, SAME];
        for (const route of order) {
          const key = `${route}|${payload.name}|${connections}`;
          const s = await measure(gateways[route], payload, connections, seconds, pids);
          samples.set(key, [...(samples.get(key) ?? []), s]);
          process.stderr.write(`  cluster run ${run + 1}: ${key}: ${Math.round(s.reqPerSec)} req/s, p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms${s.errors ? `, ${s.errors} errors` : ''}; `
            + `other processes ${s.cpu.otherCores.toFixed(2)} cores\n`);
        }
      }
    }
  }
  return [...samples].map(([key, s]) => {
    const [route, payload, connections] = key.split('|');
    return {
      route: route as Route, payload: payload!, connections: Number(connections),
      reqPerSec: median(s.map((x) => x.reqPerSec)), p50Ms: median(s.map((x) => x.p50Ms)), p99Ms: median(s.map((x) => x.p99Ms)),
      errors: s.reduce((a, x) => a + x.errors, 0),
      cpu: medianReading(s.map((x) => x.cpu)),
      runs: s.map((x) => ({ reqPerSec: x.reqPerSec, p50Ms: x.p50Ms, p99Ms: x.p99Ms, otherCores: x.cpu.otherCores })),
    };
  });
}

/** The one rp-client of part 1, `client`, connected to n0 (the others after it, as failover). */
function startClient(certDir: string, nodes: RpNode[]): CliNode {
  return startCli('rp-client.js', [
    '--server', nodes.map((n) => `127.0.0.1:${n.pipePort}`).join(','), '--server-name', 'localhost', '--gateway', 'off',
    '--cert', join(certDir, 'client.crt.pem'), '--key', join(certDir, 'client.key.pem'), '--ca', join(certDir, 'ca.crt.pem'),
    '--handler', './examples/server-handler.ts', ...QUIET,
  ]);
}

/** Certificates c0..c299 for part 2: `certDir` when it has them, else a directory of their own. */
function aggregateCerts(certDir: string, have: number): string {
  const dir = have >= AGGREGATE_CLIENTS ? certDir : join(tmpdir(), `restpipe-bench-certs-${AGGREGATE_CLIENTS}`);
  benchCerts(dir, AGGREGATE_CLIENTS);
  return dir;
}

/**
 * Both parts on one set of nodes. `certDir` holds `have` client certificates c0.. (bench/lib.ts
 * benchCerts); part 2 needs 300. All nodes use the certificates of part 2's directory.
 */
export async function clusterBench(certDir: string, have: number, runs: number, seconds: number): Promise<ClusterResult> {
  const dir = aggregateCerts(certDir, have);
  const before = loadavg()[0]!;
  process.stderr.write('  cluster: 3 nats-servers, 3 rp-servers\n');
  const cluster = await startClusterNodes(dir);
  let client: CliNode | undefined;
  try {
    client = startClient(dir, cluster.nodes);
    await waitForClient(cluster.nodes[1]!, 'client', 'n0');
    await settle(cluster.nodes, { n0: 1 });
    const natsOf = await natsHomes(cluster);
    process.stderr.write(`  cluster: on nats-servers ${JSON.stringify(natsOf)}\n`);
    process.stderr.write('  cluster: same node against cross node\n');
    const routes = await paths(cluster, client, runs, seconds);
    client.proc.kill('SIGKILL');
    await settle(cluster.nodes, {});
    process.stderr.write(`  cluster: 3 nodes against 1 node, ${AGGREGATE_CLIENTS} clients\n`);
    const aggregate = await aggregateBench(dir, cluster, runs, seconds);
    return { natsOf, paths: routes, aggregate, loadAvg: { before, after: loadavg()[0]! } };
  } finally {
    client?.proc.kill('SIGKILL');
    keepAlive.destroy();
    await cluster.stop();
  }
}
