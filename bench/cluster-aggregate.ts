/**
 * Part 2 of the cluster bench: aggregate requests per second with 300 clients, spread
 * 100/100/100 over the three nodes (each gateway loaded with the GETs for its own clients),
 * against all 300 on n0 (its gateway loaded alone, n1 and n2 running idle). The clients are
 * real PipeClients, 100 in each of three helper processes (bench/cluster-clients.ts); the
 * same three processes, only pointed at different nodes, in both layouts. The load is
 * autocannon in the bench process, the same total connections in both layouts, each
 * connection going round its gateway's client names from its own starting point.
 *
 * Every process's CPU time (user + system, from /proc) is read before and after each
 * measured load: on a machine with fewer cores than processes, that shows where the time went.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { busyCores, cpuMeter, medianReading, SELF, type CpuReading } from './cluster-cpu.js';
import { clusterPids, NODES, settle, type ClusterNodes, type RpNode } from './cluster-nodes.js';
import { median, ROOT } from './lib.js';

export const AGGREGATE_CLIENTS = 300;
const PER_CHILD = AGGREGATE_CLIENTS / NODES;
/** autocannon connections in all, split evenly over the gateways loaded. */
export const AGGREGATE_CONNECTIONS = 96;
const READY_TIMEOUT_MS = 90_000;
/** Each layout's helper processes are new: their JIT (and, the first time, the nodes' local path) warms up first. */
export const WARM_UP_SECONDS = 2;

export const THREE = '3 nodes';
export const ONE = '1 node';
export type Layout = typeof THREE | typeof ONE;

export interface AggregateResult {
  layout: Layout;
  clients: number;
  connections: number;
  /** All gateways' req/s added up, median of runs. */
  reqPerSec: number;
  /** Each loaded gateway's req/s, median of runs. */
  perGateway: Record<string, number>;
  /** The slowest loaded gateway's autocannon p50 and p99 (whole ms), medians of runs. */
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Each process's share of the measured window, and the rest of the machine's; medians of runs. */
  cpu: CpuReading;
  /** Every run's figures, in order, to show the spread on a shared machine. */
  runs: Array<{ reqPerSec: number; busyCores: number; otherCores: number }>;
}

/** The fields of an autocannon result the cluster bench reads. */
export interface Cannon {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
}

interface ClientsChild {
  name: string;
  proc: ChildProcess;
}

/** One helper process with clients c<from>..c<from+PER_CHILD-1>, all on `node`; resolves once all are connected. */
function startClients(certDir: string, from: number, node: RpNode): Promise<ClientsChild> {
  const name = `clients c${from}-c${from + PER_CHILD - 1}`;
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/cluster-clients.ts'), certDir, String(from), String(PER_CHILD), `127.0.0.1:${node.pipePort}`], {
    cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`bench: ${name} not connected to ${node.id} in ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(error);
    };
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!out.includes('"ready"')) return;
      clearTimeout(timer);
      resolve({ name, proc });
    });
    proc.once('exit', (code, signal) => fail(new Error(`bench: ${name} exited (${signal ?? code}) before connecting`)));
  });
}

async function stopClients(children: ClientsChild[]): Promise<void> {
  await Promise.all(children.map(async (c) => {
    if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
    const gone = new Promise((r) => c.proc.once('exit', r));
    c.proc.kill('SIGKILL');
    await gone;
  }));
}

interface Load {
  node: RpNode;
  /** The indexes of the clients this gateway's load asks for. */
  clients: number[];
}

/** Which node each helper process's clients connect to, and which gateway asks for which clients. */
function layOut(nodes: RpNode[], layout: Layout): { homes: RpNode[]; loads: Load[] } {
  const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);
  if (layout === ONE) return { homes: nodes.map(() => nodes[0]!), loads: [{ node: nodes[0]!, clients: range(0, AGGREGATE_CLIENTS) }] };
  return { homes: nodes, loads: nodes.map((node, k) => ({ node, clients: range(k * PER_CHILD, PER_CHILD) })) };
}

interface ClientSetup {
  setRequests(requests: Array<{ method: string; path: string }>): void;
}

/** autocannon on `node`'s gateway, GETs spread over `clients`: connection k starts k/connections of the way round. */
function spread(load: Load, connections: number, seconds: number): Promise<Cannon> {
  const paths = load.clients.map((i) => `/client/c${i}/time`);
  const from = (offset: number) => paths.map((_, i) => ({ method: 'GET', path: paths[(i + offset) % paths.length]! }));
  let next = 0;
  return autocannon({
    url: load.node.gateway, connections, duration: seconds, requests: from(0),
    setupClient: (client: ClientSetup) => client.setRequests(from(Math.floor((next++ * paths.length) / connections))),
  }) as Promise<Cannon>;
}

interface Sample {
  perGateway: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  cpu: CpuReading;
}

async function loadOnce(cluster: ClusterNodes, children: ClientsChild[], loads: Load[], seconds: number): Promise<Sample> {
  const each = AGGREGATE_CONNECTIONS / loads.length;
  const pids: Record<string, number | typeof SELF> = { 'bench process (autocannon)': SELF, ...clusterPids(cluster) };
  for (const c of children) pids[c.name] = c.proc.pid!;
  const read = cpuMeter(pids);
  const results = await Promise.all(loads.map((l) => spread(l, each, seconds)));
  const cpu = read();
  return {
    cpu,
    perGateway: Object.fromEntries(loads.map((l, i) => [l.node.id, results[i]!.requests.average])),
    p50Ms: Math.max(...results.map((r) => r.latency.p50)),
    p99Ms: Math.max(...results.map((r) => r.latency.p99)),
    errors: results.reduce((a, r) => a + r.errors + r.non2xx, 0),
  };
}

/** One layout: the clients connected as it says, the claims settled, a warm-up, then one measured load. */
async function runLayout(certDir: string, cluster: ClusterNodes, layout: Layout, seconds: number): Promise<Sample> {
  const { homes, loads } = layOut(cluster.nodes, layout);
  const children: ClientsChild[] = [];
  let sample: Sample;
  try {
    children.push(...(await Promise.all(homes.map((node, k) => startClients(certDir, k * PER_CHILD, node)))));
    const counts: Record<string, number> = {};
    for (const node of homes) counts[node.id] = (counts[node.id] ?? 0) + PER_CHILD;
    await settle(cluster.nodes, counts);
    await Promise.all(loads.map((l) => spread(l, AGGREGATE_CONNECTIONS / loads.length, WARM_UP_SECONDS)));
    sample = await loadOnce(cluster, children, loads, seconds);
  } finally {
    await stopClients(children);
  }
  await settle(cluster.nodes, {});
  return sample;
}

function summarize(layout: Layout, samples: Sample[]): AggregateResult {
  const total = (s: Sample): number => Object.values(s.perGateway).reduce((a, x) => a + x, 0);
  const gateways = Object.keys(samples[0]!.perGateway);
  return {
    layout, clients: AGGREGATE_CLIENTS, connections: AGGREGATE_CONNECTIONS,
    reqPerSec: median(samples.map(total)),
    perGateway: Object.fromEntries(gateways.map((g) => [g, median(samples.map((s) => s.perGateway[g]!))])),
    p50Ms: median(samples.map((s) => s.p50Ms)),
    p99Ms: median(samples.map((s) => s.p99Ms)),
    errors: samples.reduce((a, s) => a + s.errors, 0),
    cpu: medianReading(samples.map((s) => s.cpu)),
    runs: samples.map((s) => ({ reqPerSec: total(s), busyCores: busyCores(s.cpu), otherCores: s.cpu.otherCores })),
  };
}

/** Both layouts, alternating which goes first, `runs` times; medians. */
export async function aggregateBench(certDir: string, cluster: ClusterNodes, runs: number, seconds: number): Promise<AggregateResult[]> {
  const samples: Record<Layout, Sample[]> = { [THREE]: [], [ONE]: [] };
  for (let run = 0; run < runs; run++) {
    const order: Layout[] = run % 2 === 0 ? [THREE, ONE] : [ONE, THREE];
    for (const layout of order) {
      const s = await runLayout(certDir, cluster, layout, seconds);
      samples[layout].push(s);
      const total = Object.values(s.perGateway).reduce((a, x) => a + x, 0);
      process.stderr.write(`  cluster run ${run + 1}: ${layout}: ${Math.round(total)} req/s (${Object.entries(s.perGateway).map(([g, x]) => `${g} ${Math.round(x)}`).join(', ')}), `
        + `${busyCores(s.cpu).toFixed(2)} cores busy, ${s.cpu.otherCores.toFixed(2)} used by other processes${s.errors ? `, ${s.errors} errors` : ''}\n`);
    }
  }
  return [summarize(THREE, samples[THREE]), summarize(ONE, samples[ONE])];
}
