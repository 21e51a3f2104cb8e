/**
 * The bench's results as panels of bars (bench/svg-bars.ts): in each panel restpipe beside what
 * it is measured against, every bar a ratio to the panel's floor, the measured figure written after
 * it. Type-only imports: nothing here loads the bench's runtime (certificates, processes).
 */
import type { ClusterResult } from './cluster.js';
import type { LoadResult } from './full-path.js';
import type { JobsResult } from './jobs.js';
import type { PipeResult } from './pipe-only.js';
import type { ScaleResult } from './scale.js';
import type { StreamResult } from './stream-result.js';
import type { Bar, BarChart, BarKind, Panel } from './svg-bars.js';

interface Run {
  started: string;
  machine: Record<string, string | number>;
  runs: number;
  seconds: number;
}

/** The newest results of each part, as read from bench/results/ (any may be missing). */
export interface ChartInputs {
  main?: Run & { file: string; full: LoadResult[]; pipe: PipeResult[]; scale: ScaleResult };
  jobs?: Run & { file: string; jobs: JobsResult };
  stream?: Run & { file: string; stream: StreamResult };
  cluster?: Run & { file: string; cluster: ClusterResult };
}

const BARE = 'bare Fastify';
const RESTPIPE = 'restpipe';
/** The order bars of one block take: restpipe first, the floor last. */
const FULL_TARGETS = [RESTPIPE, 'ssh -R', 'NATS (mTLS)', BARE];
const BULK_TARGETS = [RESTPIPE, 'ssh -R', 'plain HTTP, direct', 'raw node:tls'];
/** The jobs part's names, said for a reader who has not read bench/jobs.ts. */
const JOB_LABELS: Record<string, string> = {
  'restpipe accept (202)': 'restpipe job accepted (202)',
  'restpipe accept (202), peer away': 'restpipe job accepted, peer away',
  'restpipe sync tiny': 'restpipe sync call, stored nowhere',
};

const ratio = (r: number): string => (Number.isFinite(r) ? `${r.toFixed(2)}x` : '-');
const fixed = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const kindOf = (target: string, floor: string): BarKind => (target === floor ? 'baseline' : target.startsWith(RESTPIPE) ? 'restpipe' : 'other');

function bar(label: string, value: number, floor: number, text: string, kind: BarKind, gapBefore = false): Bar {
  const r = value / floor;
  return { label, value: r, text: `${ratio(r)} (${text})`, kind, ...(gapBefore ? { gapBefore } : {}) };
}

function from(run: Run & { file: string }): string {
  return `From bench/results/${run.file}: medians of ${run.runs} runs of ${run.seconds} s.`;
}

/** Unique values in first-seen order. */
function distinct<T>(values: T[]): T[] {
  return [...new Set(values)];
}

function fullThroughput(main: NonNullable<ChartInputs['main']>): Panel {
  const c = Math.max(...main.full.map((r) => r.connections));
  const bars: Bar[] = [];
  for (const payload of distinct(main.full.map((r) => r.payload))) {
    const rows = main.full.filter((r) => r.payload === payload && r.connections === c);
    const floor = rows.find((r) => r.target === BARE);
    if (!floor) continue;
    FULL_TARGETS.map((t) => rows.find((r) => r.target === t)).filter((r) => r !== undefined).forEach((r, i) => {
      bars.push(bar(`${payload}: ${r.target}`, r.reqPerSec, floor.reqPerSec, `${fixed(r.reqPerSec)} req/s`, kindOf(r.target, BARE), i === 0));
    });
  }
  return {
    title: `Full path, ${c} connections: req/s, ratio to bare Fastify (higher is better)`,
    notes: ['HTTP -> rp-client gateway -> pipe -> rp-server handler -> back; ssh -R and NATS carry the same routes.', from(main)],
    bars,
    reference: 1,
  };
}

function fullLatency(main: NonNullable<ChartInputs['main']>): Panel {
  const rows = main.full.filter((r) => r.connections === 1 && r.payload === main.full[0]?.payload);
  const floor = rows.find((r) => r.target === BARE);
  const ordered = FULL_TARGETS.map((t) => rows.find((r) => r.target === t)).filter((r) => r !== undefined);
  return {
    title: `Full path, one ${rows[0]?.payload ?? ''} at a time: p50 latency, ratio to bare Fastify (lower is better)`,
    notes: [from(main)],
    bars: floor ? ordered.map((r) => bar(r.target, r.p50Ms, floor.p50Ms, `${fixed(r.p50Ms, 2)} ms`, kindOf(r.target, BARE))) : [],
    reference: 1,
  };
}

function pipeOnly(main: NonNullable<ChartInputs['main']>): Panel {
  const FLOOR = 'raw TLS echo';
  const bars: Bar[] = [];
  for (const k of distinct(main.pipe.map((r) => r.inFlight))) {
    const floor = main.pipe.find((r) => r.target === FLOOR && r.inFlight === k);
    const mine = main.pipe.find((r) => r.target === RESTPIPE && r.inFlight === k);
    if (!floor || !mine) continue;
    bars.push(bar(`${k} in flight: restpipe`, mine.reqPerSec, floor.reqPerSec, `${fixed(mine.reqPerSec)} req/s`, 'restpipe', true));
    bars.push(bar(`${k} in flight: raw TLS echo`, floor.reqPerSec, floor.reqPerSec, `${fixed(floor.reqPerSec)} req/s`, 'baseline'));
  }
  return {
    title: 'Pipe only (the library API, no HTTP): req/s, ratio to a raw node:tls echo (higher is better)',
    notes: ['One mutual-TLS connection, 16-byte bodies, N requests kept in flight.', from(main)],
    bars,
    reference: 1,
  };
}

function memory(main: NonNullable<ChartInputs['main']>): Panel {
  const s = main.scale;
  const floor = s.tlsFloorKbPerConnection;
  return {
    title: `Server RSS per idle connection, ${s.clients} clients: ratio to bare node:tls (lower is better)`,
    notes: [from(main)],
    bars: [
      bar('restpipe', s.restpipeKbPerConnection, floor, `${fixed(s.restpipeKbPerConnection, 1)} KB`, 'restpipe'),
      bar('node:tls, each having echoed a frame', s.tlsFloorAfterDataKbPerConnection, floor, `${fixed(s.tlsFloorAfterDataKbPerConnection, 1)} KB`, 'other'),
      bar('bare node:tls mutual TLS', floor, floor, `${fixed(floor, 1)} KB`, 'baseline'),
    ],
    reference: 1,
  };
}

function bulk(stream: NonNullable<ChartInputs['stream']>): Panel {
  const FLOOR = 'raw node:tls';
  const bars: Bar[] = [];
  for (const direction of distinct(stream.stream.bulk.map((r) => r.direction))) {
    const rows = stream.stream.bulk.filter((r) => r.direction === direction);
    const floor = rows.find((r) => r.target === FLOOR);
    if (!floor) continue;
    BULK_TARGETS.map((t) => rows.find((r) => r.target === t)).filter((r) => r !== undefined).forEach((r, i) => {
      bars.push(bar(`${direction}: ${r.target}`, r.mbPerSec, floor.mbPerSec, `${fixed(r.mbPerSec)} MB/s`, kindOf(r.target, FLOOR), i === 0));
    });
  }
  const gib = stream.stream.bytes / 2 ** 30;
  return {
    title: `Streams: one ${fixed(gib, gib < 1 ? 2 : 0)} GiB body each way, MB/s, ratio to raw node:tls (higher is better)`,
    notes: [from(stream)],
    bars,
    reference: 1,
  };
}

function jobs(run: NonNullable<ChartInputs['jobs']>): Panel {
  const FLOOR = 'JetStream publish (file)';
  const c = Math.max(...run.jobs.loads.map((r) => r.connections));
  const rows = run.jobs.loads.filter((r) => r.connections === c);
  const floor = rows.find((r) => r.target === FLOOR);
  const ordered = [...rows.filter((r) => r.target !== FLOOR), ...(floor ? [floor] : [])];
  return {
    title: `Durable jobs, ${c} connections: answered per s, ratio to a NATS JetStream publish (higher is better)`,
    notes: [
      run.jobs.jetstream && !run.jobs.jetstream.syncAlways
        ? `restpipe answers 202 after an fsync; ${run.jobs.jetstream.version} acks before one (its file store syncs every 2 min).`
        : 'restpipe answers 202 after an fsync.',
      from(run),
    ],
    bars: floor ? ordered.map((r) => bar(JOB_LABELS[r.target] ?? r.target, r.perSec, floor.perSec, `${fixed(r.perSec)} per s`, kindOf(r.target, FLOOR))) : [],
    reference: 1,
  };
}

function cluster(run: NonNullable<ChartInputs['cluster']>): Panel {
  const c = Math.max(...run.cluster.paths.map((r) => r.connections));
  const bars: Bar[] = [];
  for (const payload of distinct(run.cluster.paths.map((r) => r.payload))) {
    const same = run.cluster.paths.find((r) => r.payload === payload && r.connections === c && r.route === 'same node');
    const cross = run.cluster.paths.find((r) => r.payload === payload && r.connections === c && r.route === 'cross node');
    if (!same || !cross) continue;
    bars.push(bar(`${payload}: cross node (NATS hop)`, cross.reqPerSec, same.reqPerSec, `${fixed(cross.reqPerSec)} req/s`, 'restpipe', true));
    bars.push(bar(`${payload}: same node`, same.reqPerSec, same.reqPerSec, `${fixed(same.reqPerSec)} req/s`, 'baseline'));
  }
  const three = run.cluster.aggregate.find((r) => r.layout === '3 nodes');
  const one = run.cluster.aggregate.find((r) => r.layout === '1 node');
  if (three && one) {
    bars.push(bar(`${three.clients} clients on 3 nodes`, three.reqPerSec, one.reqPerSec, `${fixed(three.reqPerSec)} req/s`, 'restpipe', true));
    bars.push(bar(`${one.clients} clients on 1 node`, one.reqPerSec, one.reqPerSec, `${fixed(one.reqPerSec)} req/s`, 'baseline'));
  }
  return {
    title: `Cluster on NATS, ${c} connections: req/s, ratio to the same request on one node (higher is better)`,
    notes: [`Three nodes on one machine of ${run.machine['cores']} cores: a simulation, bounded by those cores.`, from(run)],
    bars,
    reference: 1,
  };
}

/** The chart of whatever results there are; a panel with no bars is left out. */
export function benchChart(inputs: ChartInputs): BarChart {
  const panels: Panel[] = [];
  if (inputs.main) panels.push(fullThroughput(inputs.main), fullLatency(inputs.main), pipeOnly(inputs.main), memory(inputs.main));
  if (inputs.stream) panels.push(bulk(inputs.stream));
  if (inputs.jobs) panels.push(jobs(inputs.jobs));
  if (inputs.cluster) panels.push(cluster(inputs.cluster));
  const m = (inputs.main ?? inputs.stream ?? inputs.jobs ?? inputs.cluster)?.machine;
  return {
    title: 'restpipe benchmarks: ratios side by side',
    notes: [
      `Loopback${m ? `, ${m['cpu']}, ${m['cores']} cores, Node ${m['node']}` : ''}: absolute figures depend on the machine, the ratios are the point.`,
      'Drawn from bench/results/ by `npm run bench` (or `npm run bench:chart`); docs/benchmarks.md has every figure.',
    ],
    panels: panels.filter((p) => p.bars.length > 0),
  };
}
