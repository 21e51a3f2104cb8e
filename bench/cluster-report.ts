/**
 * The tables of the cluster part: printed by `BENCH_ONLY=cluster`, and the "Cluster" section
 * of docs/benchmarks.md, which only it writes (the full run and BENCH_RENDER keep it as they find it).
 */
import { AGGREGATE_CLIENTS, AGGREGATE_CONNECTIONS, ONE, THREE, WARM_UP_SECONDS, type AggregateResult } from './cluster-aggregate.js';
import { CONNECTIONS, CROSS, ECHO, SAME, TINY, type ClusterResult, type PathResult } from './cluster.js';
import { busyCores, type CpuReading } from './cluster-cpu.js';

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

export const CLUSTER_HEADING = '## Cluster (SPEC §11): same node against cross node, 3 nodes against 1';

export interface ClusterTarget {
  name: string;
  /** The figures, and a warning when the machine was busy with other work meanwhile. */
  measured: string;
  met: boolean;
  /** False when other processes' CPU (median) passed SHARED_CORES during either side. */
  fair: boolean;
}

/** Other processes' median CPU during a load, in cores, past which the comparison is marked as not fair. */
const SHARED_CORES = 0.1;

function target(name: string, measured: string, met: boolean, ...sides: Array<{ cpu: CpuReading } | undefined>): ClusterTarget {
  const others = sides.map((s) => s?.cpu.otherCores ?? NaN);
  const fair = others.every((x) => x <= SHARED_CORES);
  const warning = fair ? '' : `; other processes took ${others.map((x) => fmt(x, 2)).join(' and ')} cores meanwhile (medians)`;
  return { name, measured: `${measured}${warning}`, met, fair };
}

function path(r: ClusterResult, route: string, payload: string, c: number): PathResult | undefined {
  return r.paths.find((p) => p.route === route && p.payload === payload && p.connections === c);
}

function layout(r: ClusterResult, name: string): AggregateResult | undefined {
  return r.aggregate.find((a) => a.layout === name);
}

/** The issue's targets, each judged for the tiny GET and for the 64 KiB echo. */
export function clusterTargets(r: ClusterResult): ClusterTarget[] {
  const checks: ClusterTarget[] = [];
  for (const payload of [TINY, ECHO]) {
    const same1 = path(r, SAME, payload, 1);
    const cross1 = path(r, CROSS, payload, 1);
    const same32 = path(r, SAME, payload, 32);
    const cross32 = path(r, CROSS, payload, 32);
    const p50 = (cross1?.p50Ms ?? NaN) / (same1?.p50Ms ?? NaN);
    const rate = (cross32?.reqPerSec ?? NaN) / (same32?.reqPerSec ?? NaN);
    const added = (cross1?.p99Ms ?? NaN) - (same1?.p99Ms ?? NaN);
    checks.push(
      target(`${payload}: cross-node c1 p50 <= 2.5x same-node`, `${fmt(p50, 2)}x (${fmt(cross1?.p50Ms ?? NaN, 3)} vs ${fmt(same1?.p50Ms ?? NaN, 3)} ms)`, p50 <= 2.5, cross1, same1),
      target(`${payload}: cross-node c32 req/s >= 0.5x same-node`, `${fmt(rate, 2)}x (${fmt(cross32?.reqPerSec ?? NaN)} vs ${fmt(same32?.reqPerSec ?? NaN)})`, rate >= 0.5, cross32, same32),
      target(`${payload}: added p99 at c1 (cross - same) <= 2 ms`, `${fmt(added, 3)} ms (${fmt(cross1?.p99Ms ?? NaN, 3)} - ${fmt(same1?.p99Ms ?? NaN, 3)})`, added <= 2, cross1, same1),
    );
  }
  const three = layout(r, THREE);
  const one = layout(r, ONE);
  const ratio = (three?.reqPerSec ?? NaN) / (one?.reqPerSec ?? NaN);
  checks.push(target(`3 nodes >= 1.6x 1 node in aggregate, ${AGGREGATE_CLIENTS} clients (a simulation on this machine's cores)`,
    `${fmt(ratio, 2)}x (${fmt(three?.reqPerSec ?? NaN)} vs ${fmt(one?.reqPerSec ?? NaN)} req/s)`, ratio >= 1.6, three, one));
  return checks;
}

export function pathTable(r: ClusterResult): string[] {
  const rows = ['| payload | c | route | req/s | p50 ms | p99 ms | cross/same req/s | cross/same p50 | cross - same p99 ms | other processes, cores |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const payload of [TINY, ECHO]) {
    for (const c of CONNECTIONS) {
      const same = path(r, SAME, payload, c);
      for (const p of [same, path(r, CROSS, payload, c)]) {
        if (!p) continue;
        const vs = p.route === CROSS && same
          ? `${fmt(p.reqPerSec / same.reqPerSec, 2)}x | ${fmt(p.p50Ms / same.p50Ms, 2)}x | ${fmt(p.p99Ms - same.p99Ms, c === 1 ? 3 : 0)}`
          : '- | - | -';
        const digits = c === 1 ? 3 : 0;
        rows.push(`| ${payload} | ${c} | ${p.route} | ${fmt(p.reqPerSec)} | ${fmt(p.p50Ms, digits)} | ${fmt(p.p99Ms, digits)} | ${vs}${p.errors ? ` (${p.errors} errors)` : ''} | ${fmt(p.cpu.otherCores, 2)} |`);
      }
    }
  }
  return rows;
}

export function aggregateTable(r: ClusterResult): string[] {
  const rows = ['| layout | clients per node | autocannon connections | req/s, all gateways | req/s per gateway | p50 ms | p99 ms | ratio to 1 node |', '| --- | --- | --- | --- | --- | --- | --- | --- |'];
  const one = layout(r, ONE);
  for (const a of r.aggregate) {
    const perNode = a.layout === THREE ? `${a.clients / 3} / ${a.clients / 3} / ${a.clients / 3}` : `${a.clients} on n0`;
    const each = Object.entries(a.perGateway).map(([g, x]) => `${g} ${fmt(x)}`).join(', ');
    const ratio = one ? `${fmt(a.reqPerSec / one.reqPerSec, 2)}x` : '-';
    rows.push(`| ${a.layout} | ${perNode} | ${a.connections} | ${fmt(a.reqPerSec)} | ${each} | ${fmt(a.p50Ms)} | ${fmt(a.p99Ms)} | ${ratio}${a.errors ? ` (${a.errors} errors)` : ''} |`);
  }
  return rows;
}

interface CpuColumn {
  label: string;
  cpu: CpuReading;
  reqPerSec: number;
}

/** Each process's CPU during a load, in cores, loads side by side, and what all of them spent per request answered. */
function cpuTable(columns: CpuColumn[]): string[] {
  if (columns.length === 0) return [];
  const cell = (f: (c: CpuColumn) => string): string => columns.map(f).join(' | ');
  const rows = [`| process | ${cell((c) => c.label)} |`, `| --- | ${cell(() => '---')} |`];
  for (const { process: name } of columns[0]!.cpu.cpu) {
    rows.push(`| ${name} | ${cell((c) => fmt(c.cpu.cpu.find((x) => x.process === name)?.cores ?? NaN, 2))} |`);
  }
  rows.push(`| **all of them** | ${cell((c) => fmt(busyCores(c.cpu), 2))} |`);
  rows.push(`| other processes on the machine meanwhile (/proc/stat less the above) | ${cell((c) => fmt(c.cpu.otherCores, 2))} |`);
  rows.push(`| CPU per request, all of the above | ${cell((c) => `${fmt((busyCores(c.cpu) * 1e6) / c.reqPerSec)} µs`)} |`);
  return rows;
}

/** Part 1's CPU at c32, where the cross-node throughput is judged. */
export function pathCpuTable(r: ClusterResult): string[] {
  const columns: CpuColumn[] = [];
  for (const payload of [TINY, ECHO]) {
    for (const route of [SAME, CROSS]) {
      const p = path(r, route, payload, 32);
      if (p) columns.push({ label: `${payload} c32, ${route}`, cpu: p.cpu, reqPerSec: p.reqPerSec });
    }
  }
  return cpuTable(columns);
}

export function aggregateCpuTable(r: ClusterResult): string[] {
  return cpuTable(r.aggregate.map((a) => ({ label: a.layout, cpu: a.cpu, reqPerSec: a.reqPerSec })));
}

/** Every run's aggregate, in the order they ran: the spread the medians hide. */
export function aggregateRuns(r: ClusterResult): string {
  return r.aggregate.map((a) => `${a.layout}: ${a.runs.map((x) => `${fmt(x.reqPerSec)} req/s (other processes ${fmt(x.otherCores, 2)} cores)`).join(', ')}`).join('; ');
}

/** µs of CPU per request that `names` (all processes when empty) spent during a load. */
function usPerRequest(x: { cpu: CpuReading; reqPerSec: number } | undefined, ...names: string[]): number {
  if (!x) return NaN;
  const cores = x.cpu.cpu.filter((c) => names.length === 0 || names.includes(c.process)).reduce((a, c) => a + c.cores, 0);
  return (cores * 1e6) / x.reqPerSec;
}

/** Where a cross-node request's CPU went, against the same-node one (tiny GET, c32). */
export function crossCost(r: ClusterResult): string {
  const same = path(r, SAME, TINY, 32);
  const cross = path(r, CROSS, TINY, 32);
  const nats = (r.natsOf['n0'] === undefined ? [] : [r.natsOf['n0'], r.natsOf['n1']]).map((i) => `nats-server ${i}`);
  return `tiny GET at c32: ${fmt(usPerRequest(cross))} µs of CPU per request in all cross node, ${fmt(usPerRequest(same))} µs same node; `
    + `cross node, n1 (HTTP in, NATS request out) ${fmt(usPerRequest(cross, 'rp-server n1'))} µs, n0 (NATS in, pipe) ${fmt(usPerRequest(cross, 'rp-server n0'))} µs, `
    + `the nats-servers ${fmt(usPerRequest(cross, ...new Set(nats)))} µs; same node, n0 ${fmt(usPerRequest(same, 'rp-server n0'))} µs`;
}

/** The most 3 nodes could reach here: all the machine's cores at 1 node's CPU per request, as a multiple of 1 node's req/s. */
export function aggregateBound(r: ClusterResult, cores: number): string {
  const one = layout(r, ONE);
  const bound = (cores * 1e6) / usPerRequest(one);
  return `${fmt(bound)} req/s, ${fmt(bound / (one?.reqPerSec ?? NaN), 2)}x 1 node (${cores} cores at 1 node's ${fmt(usPerRequest(one))} µs of CPU per request)`;
}

function targetRows(r: ClusterResult): string[] {
  return ['| target | measured | met |', '| --- | --- | --- |', ...clusterTargets(r).map((t) => `| ${t.name} | ${t.measured} | ${t.met ? 'yes' : '**no**'}${t.fair ? '' : ' (not a fair comparison)'} |`)];
}

/** The section of docs/benchmarks.md; `when` says which run it comes from. */
export function clusterSection(r: ClusterResult, when: string, cores: number): string[] {
  const three = layout(r, THREE);
  const one = layout(r, ONE);
  const server = (a: AggregateResult | undefined, id: string): string => fmt(a?.cpu.cpu.find((c) => c.process === `rp-server ${id}`)?.cores ?? NaN, 2);
  const busy = (a: AggregateResult | undefined): number => (a ? busyCores(a.cpu) : NaN);
  return [
    CLUSTER_HEADING,
    '',
    when,
    'All real processes on loopback: three Debian `nats-server`s in a routed cluster (plain TCP, no TLS on the NATS links),',
    'and three `rp-server --cluster nats://127.0.0.1:PORT --node-id nI --statsd off --log-level warn --data-dir off` nodes,',
    'node i given nats-server i only (the NATS client shuffles a list of several, which could put two nodes on one server);',
    `each server's \`/connz\` said: ${Object.entries(r.natsOf).sort().map(([node, i]) => `${node} on nats-server ${i}`).join(', ')}.`,
    'The results file has every figure; medians of runs, the two sides of each comparison alternating which goes first.',
    '',
    ...targetRows(r),
    '',
    '### Same node against cross node',
    '',
    'One real `rp-client` (`--server` n0,n1,n2, so on n0; handler `examples/server-handler.ts`) is the client `client`.',
    'Same node: the load goes to n0\'s gateway, `/client/client/time` (tiny GET) or `POST /client/client/echo` (64 KiB,',
    'echoed back): gateway -> pipe -> client -> back. Cross node: the same load to n1\'s gateway, which has no `client`: n1',
    `sends each request as a NATS request (n1 -> nats-server ${r.natsOf['n1'] ?? '?'} -> ${r.natsOf['n1'] === r.natsOf['n0'] ? 'no route hop' : 'route'} -> nats-server ${r.natsOf['n0'] ?? '?'} -> n0), n0 puts it on the pipe and`,
    'sends the reply back the same way. Load by autocannon; at c1 the latency columns come from a sequential keep-alive loop',
    'timed with `performance.now()` (autocannon has whole ms), at c32 from autocannon. A 1 s c8 warm-up of each first.',
    '',
    ...pathTable(r),
    '',
    'The last column is the CPU that processes other than the bench\'s used meanwhile (all of /proc/stat\'s busy time less',
    'that of the processes below), median of runs: the machine is shared. Each process\'s CPU at c32 (user + system time',
    'from `/proc/PID/stat` before and after the load, over its wall time; medians of runs):',
    '',
    ...pathCpuTable(r),
    '',
    `Per request: ${crossCost(r)}.`,
    '',
    `### ${THREE} against ${ONE}, ${AGGREGATE_CLIENTS} clients`,
    '',
    `${AGGREGATE_CLIENTS} real PipeClients (c0..c${AGGREGATE_CLIENTS - 1}, mutual TLS, the built-in client handler), 100 in each of three helper`,
    'processes (`bench/cluster-clients.ts`), so no client process is shared by two nodes. 3 nodes: helper k\'s clients are',
    'connected to node k, and each node\'s gateway gets `GET /client/cN/time` for its own 100 clients only (no NATS hop).',
    `1 node: all three helpers on n0, n0's gateway gets the GETs for all ${AGGREGATE_CLIENTS} (n1 and n2 run idle, in the cluster).`,
    `The load is autocannon in the bench process, ${AGGREGATE_CONNECTIONS} connections in all in both layouts (${AGGREGATE_CONNECTIONS / 3} on each of three`,
    `gateways, or ${AGGREGATE_CONNECTIONS} on one), each connection going round its gateway's client names from its own starting point; req/s is`,
    'the sum of the gateways\' autocannon averages over the same window. The clients reconnect for each layout and the',
    `claims settle (every node's \`/_rp/cluster\` shows the counts) before a ${WARM_UP_SECONDS} s warm-up (new helper processes) and the measured load.`,
    '',
    ...aggregateTable(r),
    '',
    `**This is a simulation, bounded by the machine's ${cores} cores.** A node is one Node.js event loop, so its rp-server can use`,
    `about one core; three nodes on machines of their own would bring three times the cores. Here all ten processes`,
    `(3 nats-server, 3 rp-server, the 3 client helpers and the bench with autocannon) share the same ${cores}, with whatever`,
    `else runs on the machine: during the 3-node load the bench's processes used ${fmt(busy(three), 2)} cores in all (the rp-servers`,
    `${server(three, 'n0')} + ${server(three, 'n1')} + ${server(three, 'n2')}) and other processes ${fmt(three?.cpu.otherCores ?? NaN, 2)}; during the 1-node load ${fmt(busy(one), 2)} (n0 ${server(one, 'n0')}) and other`,
    `processes ${fmt(one?.cpu.otherCores ?? NaN, 2)}. So the 3-node figure is what the cores left over allow, not what three machines would do.`,
    `The most any layout could answer on this machine, were every core busy at 1 node's cost per request: ${aggregateBound(r, cores)}.`,
    'CPU time (user + system) of each process, from `/proc/PID/stat` before and after the measured load, divided by the',
    'wall time of the load (medians of runs); the last row is the CPU all of them spent per request answered:',
    '',
    ...aggregateCpuTable(r),
    '',
    `Each run, in order: ${aggregateRuns(r)}.`,
    '',
  ];
}

/** What `BENCH_ONLY=cluster` prints. */
export function clusterPrint(r: ClusterResult, cores: number): string {
  const lines = clusterTargets(r).map((t) => `${t.name}: ${t.met ? 'met' : 'not met'}${t.fair ? '' : ' (not a fair comparison)'}, measured ${t.measured}`);
  const homes = Object.entries(r.natsOf).sort().map(([node, i]) => `${node} on nats-server ${i}`).join(', ');
  return [`nodes (from /connz): ${homes}`, '', ...pathTable(r), '', ...pathCpuTable(r), '', `per request: ${crossCost(r)}`, '',
    ...aggregateTable(r), '', ...aggregateCpuTable(r), '', `each run: ${aggregateRuns(r)}`, `bound on this machine: ${aggregateBound(r, cores)}`, '', ...lines,
    `1-minute load average: ${fmt(r.loadAvg.before, 2)} before, ${fmt(r.loadAvg.after, 2)} after`, ''].join('\n');
}

/** The cluster section of `markdown` (heading to the next `## ` or the end), or undefined. */
export function clusterSectionOf(markdown: string): string | undefined {
  const start = markdown.indexOf(CLUSTER_HEADING);
  if (start < 0) return undefined;
  const rest = markdown.indexOf('\n## ', start + CLUSTER_HEADING.length);
  return markdown.slice(start, rest < 0 ? undefined : rest + 1).trimEnd();
}

/** `markdown` with its cluster section (if any) replaced by `section`, or `section` appended. */
export function spliceClusterSection(markdown: string, section: string[]): string {
  const start = markdown.indexOf(CLUSTER_HEADING);
  const rest = start < 0 ? -1 : markdown.indexOf('\n## ', start + CLUSTER_HEADING.length);
  const before = start < 0 ? `${markdown.trimEnd()}\n\n` : markdown.slice(0, start);
  const after = rest < 0 ? '' : markdown.slice(rest + 1);
  return `${before}${section.join('\n')}${after ? `\n${after}` : ''}`;
}
