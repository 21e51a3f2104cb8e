/**
 * `npm run bench`: every comparison side by side in one run, medians of runs.
 * Writes bench/results/<time>.json and docs/benchmarks.md.
 *
 * BENCH_RUNS (3), BENCH_SECONDS (3 per load), BENCH_CLIENTS (1000) tune it.
 * BENCH_ONLY=full|pipe|scale runs one part and prints its table, writing nothing:
 * for a quick look while working on the hot path. BENCH_ONLY=jobs (durable jobs
 * against NATS JetStream) also writes bench/results/<time>-jobs.json and replaces
 * the jobs section of docs/benchmarks.md, saying which run it is from. BENCH_ONLY=holds (approval holds,
 * SPEC §9; BENCH_HOLDS, 200) likewise writes bench/results/<time>-holds.json and replaces the holds
 * section, which only it writes: the full run and BENCH_RENDER keep it as they find it.
 * BENCH_ONLY=cluster (SPEC §11: 3 nats-servers and 3 rp-servers; same node against cross node, and 300
 * clients on 3 nodes against 1) likewise writes bench/results/<time>-cluster.json and replaces the cluster
 * section, which only it writes; it is not part of the full run (it takes about 3 minutes more at BENCH_RUNS=3).
 * BENCH_ONLY=stream (SPEC §12: bulk MB/s each way against raw node:tls and ssh -R, small events beside a bulk,
 * RSS of both nodes, 64 KiB and 1 MiB echo; BENCH_STREAM_BYTES, 1 GiB) likewise writes bench/results/<time>-stream.json
 * and replaces the streams section, which only it writes; it is not part of the full run (it takes about 5 minutes at
 * BENCH_RUNS=3: six 1 GiB transfers a run through restpipe, and the floors').
 * BENCH_ONLY=watch prints what the call log's ring costs per event beside the log line, and the dashboard page's size.
 * BENCH_RENDER=bench/results/X.json rewrites docs/benchmarks.md from that run's results.
 * The full run, BENCH_ONLY=jobs, =cluster and =stream, and BENCH_RENDER draw docs/benchmarks.svg again from
 * bench/results/ (bench/chart-files.ts); `npm run bench:chart` draws it alone.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeChart } from './chart-files.js';
import { clusterBench } from './cluster.js';
import { clusterPrint, clusterSection, clusterSectionOf, spliceClusterSection } from './cluster-report.js';
import { fullPath, type LoadResult } from './full-path.js';
import { holdsBench } from './holds.js';
import { holdsPrint, holdsSection, holdsSectionOf, spliceHoldsSection } from './holds-report.js';
import { jobsBench, type JobsResult } from './jobs.js';
import { jobsPrint, jobsSection, spliceJobsSection } from './jobs-report.js';
import { benchCerts, machine, ROOT } from './lib.js';
import { pipeOnly, type PipeResult } from './pipe-only.js';
import { scale, SETTLE_MS, type ScaleResult } from './scale.js';
import { sshVersion } from './ssh.js';
import { streamBench } from './stream.js';
import { spliceStreamSection, streamPrint, streamSection, streamSectionOf } from './stream-report.js';
import { watchBench, watchPrint, type WatchResult } from './watch.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 3);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 1000);
const ONLY = process.env['BENCH_ONLY'];
const RENDER = process.env['BENCH_RENDER'];

/** docs/benchmarks.svg, which writeChart draws from the newest results of each part. */
const CHART_IMAGE = '![restpipe against bare Fastify, ssh -R, NATS and raw node:tls: ratios side by side](benchmarks.svg)';

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function fullTable(results: LoadResult[]): string[] {
  const rows = ['| payload | c | target | req/s | p50 ms | p99 ms | MB/s | ratio to bare (req/s) |', '| --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const r of results) {
    const bare = results.find((b) => b.target === 'bare Fastify' && b.payload === r.payload && b.connections === r.connections)!;
    rows.push(`| ${r.payload} | ${r.connections} | ${r.target} | ${fmt(r.reqPerSec)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${fmt(r.mbPerSec, 1)} | ${fmt(r.reqPerSec / bare.reqPerSec, 2)}x |`);
  }
  return rows;
}

function pipeTable(results: PipeResult[]): string[] {
  const rows = ['| in flight | target | req/s | p50 ms | p99 ms | ratio to raw TLS |', '| --- | --- | --- | --- | --- | --- |'];
  for (const r of results) {
    const floor = results.find((f) => f.target === 'raw TLS echo' && f.inFlight === r.inFlight)!;
    rows.push(`| ${r.inFlight} | ${r.target} | ${fmt(r.reqPerSec)} | ${fmt(r.p50Ms, 3)} | ${fmt(r.p99Ms, 3)} | ${fmt(r.reqPerSec / floor.reqPerSec, 2)}x |`);
  }
  return rows;
}

interface Target {
  name: string;
  measured: string;
  met: boolean;
}

function targets(full: LoadResult[], pipe: PipeResult[], s: ScaleResult): Target[] {
  const f = (target: string, payload: string, c: number) => full.find((r) => r.target === target && r.payload === payload && r.connections === c)!;
  const tiny64 = f('restpipe', 'tiny GET', 64).reqPerSec / f('bare Fastify', 'tiny GET', 64).reqPerSec;
  const p50 = f('restpipe', 'tiny GET', 1).p50Ms / f('bare Fastify', 'tiny GET', 1).p50Ms;
  const p99 = f('restpipe', 'tiny GET', 1).p99Ms / f('bare Fastify', 'tiny GET', 1).p99Ms;
  const mib = f('restpipe', '1 MiB echo', 64).mbPerSec / f('bare Fastify', '1 MiB echo', 64).mbPerSec;
  const p = (target: string, k: number) => pipe.find((r) => r.target === target && r.inFlight === k)!;
  const pipe64 = p('restpipe', 64).reqPerSec / p('raw TLS echo', 64).reqPerSec;
  const memory = s.restpipeKbPerConnection / s.tlsFloorKbPerConnection;
  const nats = full.find((r) => r.target === 'NATS (mTLS)' && r.payload === 'tiny GET' && r.connections === 64);
  const vsNats = nats ? f('restpipe', 'tiny GET', 64).reqPerSec / nats.reqPerSec : NaN;
  const ssh = full.find((r) => r.target === 'ssh -R' && r.payload === 'tiny GET' && r.connections === 64);
  const vsSsh = ssh ? f('restpipe', 'tiny GET', 64).reqPerSec / ssh.reqPerSec : NaN;
  const echo64 = f('restpipe', '64 KiB echo', 64).reqPerSec;
  return [
    ...(nats ? [{ name: 'full path, tiny, c64: req/s >= 2x NATS request-reply (mTLS)', measured: `${fmt(vsNats, 2)}x`, met: vsNats >= 2 }] : []),
    ...(ssh ? [{ name: 'full path, tiny, c64: req/s >= 1.2x ssh -R', measured: `${fmt(vsSsh, 2)}x`, met: vsSsh >= 1.2 }] : []),
    { name: 'full path, tiny, c64: req/s >= 0.75x bare Fastify', measured: `${fmt(tiny64, 2)}x`, met: tiny64 >= 0.75 },
    ...(ssh ? [{ name: 'full path, 64 KiB echo, c64: req/s >= 1.2x ssh -R', measured: `${fmt(echo64 / f('ssh -R', '64 KiB echo', 64).reqPerSec, 2)}x`, met: echo64 / f('ssh -R', '64 KiB echo', 64).reqPerSec >= 1.2 }] : []),
    { name: 'full path, 64 KiB echo, c64: req/s >= 0.3x bare Fastify', measured: `${fmt(echo64 / f('bare Fastify', '64 KiB echo', 64).reqPerSec, 2)}x`, met: echo64 / f('bare Fastify', '64 KiB echo', 64).reqPerSec >= 0.3 },
    { name: 'full path, c1: p50 <= 2x bare Fastify', measured: `${fmt(p50, 2)}x`, met: p50 <= 2 },
    { name: 'full path, c1: p99 <= 2x bare Fastify', measured: `${fmt(p99, 2)}x`, met: p99 <= 2 },
    { name: '1 MiB echo: MB/s >= 0.5x bare Fastify (c64)', measured: `${fmt(mib, 2)}x`, met: mib >= 0.5 },
    { name: 'pipe only, 64 in flight: req/s >= 0.5x raw TLS echo', measured: `${fmt(pipe64, 2)}x`, met: pipe64 >= 0.5 },
    {
      name: 'idle memory per connection <= 1.1x bare node:tls',
      measured: `${fmt(memory, 2)}x (${fmt(s.restpipeKbPerConnection, 1)} vs ${fmt(s.tlsFloorKbPerConnection, 1)} KB); ${fmt(s.restpipeKbPerConnection / s.tlsFloorAfterDataKbPerConnection, 2)}x a floor whose connections carried one frame`,
      met: memory <= 1.1,
    },
    { name: `${s.clients} clients reconnected within 10 s of a restart`, measured: `${fmt(s.reconnectResumedMs / 1000, 2)} s resumed, ${fmt(s.reconnectFullMs / 1000, 2)} s full`, met: s.reconnectResumedMs <= 10_000 },
  ];
}

async function main(): Promise<void> {
  if (RENDER) {
    // Rewrites docs/benchmarks.md from a results file, without running anything.
    writeFileSync(join(ROOT, 'docs/benchmarks.md'), keepHolds(render(JSON.parse(readFileSync(RENDER, 'utf8')) as BenchResult)));
    writeChart();
    return;
  }
  const certDir = join(tmpdir(), `restpipe-bench-certs-${CLIENTS}`);
  process.stderr.write(`bench: certificates for ${CLIENTS} clients in ${certDir}\n`);
  benchCerts(certDir, CLIENTS);
  if (ONLY) return only(ONLY, certDir);
  const started = new Date();
  process.stderr.write('bench: full path\n');
  const full = await fullPath(certDir, RUNS, SECONDS);
  process.stderr.write('bench: pipe only\n');
  const pipe = await pipeOnly(certDir, RUNS, SECONDS);
  process.stderr.write('bench: scale\n');
  const scaled = await scale(certDir, CLIENTS, Math.min(RUNS, 2), SECONDS);
  process.stderr.write('bench: durable jobs\n');
  const jobs = await jobsBench(certDir, RUNS, SECONDS);
  process.stderr.write('bench: the call log\'s cost\n');
  const watch = watchBench();
  const checks = targets(full, pipe, scaled);
  const result = { started: started.toISOString(), machine: machine(), runs: RUNS, seconds: SECONDS, full, pipe, scale: scaled, targets: checks, jobs, watch };

  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const file = join(ROOT, 'bench/results', `${started.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  const markdown = keepHolds(render(result));
  writeFileSync(join(ROOT, 'docs/benchmarks.md'), markdown);
  process.stdout.write(`${markdown}\nresults: ${file}\nchart: ${writeChart()}\n`);
}

interface BenchResult {
  started: string;
  machine: Record<string, string | number>;
  runs: number;
  seconds: number;
  full: LoadResult[];
  pipe: PipeResult[];
  scale: ScaleResult;
  targets: Target[];
  /** Absent from runs before the jobs part existed. */
  jobs?: JobsResult;
  /** Absent from runs before the dashboard (SPEC §13) existed. */
  watch?: WatchResult;
}

/** docs/benchmarks.md for one run's results. */
function render(result: BenchResult): string {
  const { full, pipe, scale: scaled, targets: checks, runs, seconds } = result;
  const m = result.machine;
  return [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` on ${result.started}: ${m['cpu']}, ${m['cores']} cores, ${m['memoryGiB']} GiB, Node ${m['node']}, ${m['platform']}.`,
    `Every comparison ran side by side in this one run, scenarios alternating; figures are medians of ${runs} runs of ${seconds} s.`,
    'Loopback only; absolute numbers depend on the machine, the ratios are the point.',
    '',
    CHART_IMAGE,
    '',
    '## Targets',
    '',
    '| target | measured | met |',
    '| --- | --- | --- |',
    ...checks.map((t) => `| ${t.name} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`),
    '',
    '## Full path: HTTP -> client gateway -> pipe -> server handler -> back',
    '',
    'autocannon against `rp-client`\'s gateway (real `rp-server` and `rp-client` processes, default',
    'flags, info logging), and against a bare Fastify answering the same routes directly. At c1 the',
    'latency columns come from a sequential keep-alive loop timed with `performance.now()`.',
    '',
    ...fullTable(full),
    '',
    '## Pipe only: the library API, no HTTP',
    '',
    'One connection, 16-byte bodies, N requests kept in flight; the floor is a raw `node:tls`',
    'mutual-TLS socket echoing length-prefixed frames.',
    '',
    ...pipeTable(pipe),
    '',
    '## Scale',
    '',
    `| measure | value |`,
    '| --- | --- |',
    `| server RSS per idle connection, restpipe (${scaled.clients} clients) | ${fmt(scaled.restpipeKbPerConnection, 1)} KB |`,
    `| server RSS per idle connection, bare node:tls mutual TLS | ${fmt(scaled.tlsFloorKbPerConnection, 1)} KB |`,
    `| server RSS per idle connection, bare node:tls mutual TLS, each having echoed one 8-byte frame | ${fmt(scaled.tlsFloorAfterDataKbPerConnection, 1)} KB |`,
    `| all ${scaled.clients} reconnected after a restart, full handshakes | ${fmt(scaled.reconnectFullMs)} ms |`,
    `| all ${scaled.clients} reconnected after a restart, TLS 1.3 session resumption (same ticket keys) | ${fmt(scaled.reconnectResumedMs)} ms (${scaled.resumedCount} resumed) |`,
    `| event throughput, ${scaled.activeClients} clients active at once | ${fmt(scaled.activeReqPerSec)} req/s |`,
    '',
    `RSS per connection is read after the server has idled ${SETTLE_MS / 1000} s (\`BENCH_SETTLE_MS\`) with all clients connected, for the floors`,
    'as for restpipe: V8 grows its young generation during the connection storm and returns it only after a few idle',
    'seconds. The second floor shows that carrying data (every restpipe connection carries its Hello, then heartbeats)',
    'costs OpenSSL next to nothing: the difference is restpipe\'s own state per connection, its JavaScript objects',
    'and the memory around them. V8 gives its young generation (about 16 MB) back only while the process allocates',
    'less than about 1 MB/s; the heartbeats of 1,000 clients come close to that, so each heartbeat frame is',
    'encoded, framed and decoded without garbage of its own.',
    '',
    'NATS: an HTTP gateway process and a responder process, both mutual-TLS clients of Debian\'s `nats-server` (skipped when it is not installed).',
    `ssh -R: a Fastify process answering the routes, reached through \`ssh -R\` (${sshVersion() || 'OpenSSH'}, default ciphers) to a private \`sshd\` on loopback; the load goes to the port sshd opens (skipped without openssh-server).`,
    '',
    ...(result.jobs ? jobsSection(result.jobs, 'In this same run.') : []),
    ...(result.watch ? ['', '## The dashboard\'s cost (SPEC §13)', '', 'In this same run (`BENCH_ONLY=watch` for these figures alone):', '', '```', watchPrint(result.watch), '```'] : []),
  ].join('\n');
}

async function only(part: string, certDir: string): Promise<void> {
  if (part === 'full') return void process.stdout.write(`${fullTable(await fullPath(certDir, RUNS, SECONDS)).join('\n')}\n`);
  if (part === 'pipe') return void process.stdout.write(`${pipeTable(await pipeOnly(certDir, RUNS, SECONDS)).join('\n')}\n`);
  if (part === 'scale') return void process.stdout.write(`${JSON.stringify(await scale(certDir, CLIENTS, Math.min(RUNS, 2), SECONDS), null, 2)}\n`);
  if (part === 'jobs') return onlyJobs(certDir);
  if (part === 'holds') return onlyHolds(certDir);
  if (part === 'cluster') return onlyCluster(certDir);
  if (part === 'stream') return onlyStream(certDir);
  if (part === 'watch') return void process.stdout.write(`${watchPrint(watchBench())}\n`);
  throw new Error(`BENCH_ONLY must be full, pipe, scale, jobs, holds, cluster, stream or watch, not ${part}`);
}

/** BENCH_ONLY=jobs: prints the tables, records the run, and replaces the jobs section of docs/benchmarks.md. */
async function onlyJobs(certDir: string): Promise<void> {
  const started = new Date();
  const m = machine();
  const jobs = await jobsBench(certDir, RUNS, SECONDS);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const file = join(ROOT, 'bench/results', `${started.toISOString().replace(/[:.]/g, '-')}-jobs.json`);
  writeFileSync(file, JSON.stringify({ started: started.toISOString(), machine: m, runs: RUNS, seconds: SECONDS, jobs }, null, 2));
  const when = `Written by \`BENCH_ONLY=jobs\` on ${started.toISOString()}, a run of its own (the sections above come from another): `
    + `${m['cpu']}, ${m['cores']} cores, Node ${m['node']}; medians of ${RUNS} runs of ${SECONDS} s.`;
  const docs = join(ROOT, 'docs/benchmarks.md');
  writeFileSync(docs, spliceJobsSection(readFileSync(docs, 'utf8'), jobsSection(jobs, when)));
  process.stdout.write(`${jobsPrint(jobs)}\nresults: ${file}\nchart: ${writeChart()}\n`);
}

/** BENCH_ONLY=holds: prints the tables and the target line, records the run, and replaces the holds section of docs/benchmarks.md. */
async function onlyHolds(certDir: string): Promise<void> {
  const started = new Date();
  const m = machine();
  const holds = await holdsBench(certDir, RUNS, SECONDS);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const file = join(ROOT, 'bench/results', `${started.toISOString().replace(/[:.]/g, '-')}-holds.json`);
  writeFileSync(file, JSON.stringify({ started: started.toISOString(), machine: m, runs: RUNS, seconds: SECONDS, holds }, null, 2));
  const when = `Written by \`BENCH_ONLY=holds\` on ${started.toISOString()}, a run of its own (the sections above come from others): `
    + `${m['cpu']}, ${m['cores']} cores, Node ${m['node']}; latencies over ${holds.holds} holds per row (32 at once: rounded up to whole waves), rates medians of ${RUNS} runs of ${SECONDS} s; `
    + `1-minute load average ${holds.loadAvg.before.toFixed(2)} before, ${holds.loadAvg.after.toFixed(2)} after.`;
  const docs = join(ROOT, 'docs/benchmarks.md');
  writeFileSync(docs, spliceHoldsSection(readFileSync(docs, 'utf8'), holdsSection(holds, when)));
  process.stdout.write(`${holdsPrint(holds)}\nresults: ${file}\n`);
}

/** BENCH_ONLY=cluster: prints the tables and the target lines, records the run, and replaces the cluster section of docs/benchmarks.md. */
async function onlyCluster(certDir: string): Promise<void> {
  const started = new Date();
  const m = machine();
  const cluster = await clusterBench(certDir, CLIENTS, RUNS, SECONDS);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const file = join(ROOT, 'bench/results', `${started.toISOString().replace(/[:.]/g, '-')}-cluster.json`);
  writeFileSync(file, JSON.stringify({ started: started.toISOString(), machine: m, runs: RUNS, seconds: SECONDS, cluster }, null, 2));
  const when = `Written by \`BENCH_ONLY=cluster\` on ${started.toISOString()}, a run of its own (the sections above come from others): `
    + `${m['cpu']}, ${m['cores']} cores, Node ${m['node']}; medians of ${RUNS} runs of ${SECONDS} s per load; `
    + `1-minute load average ${cluster.loadAvg.before.toFixed(2)} before, ${cluster.loadAvg.after.toFixed(2)} after.`;
  const docs = join(ROOT, 'docs/benchmarks.md');
  writeFileSync(docs, spliceClusterSection(readFileSync(docs, 'utf8'), clusterSection(cluster, when, Number(m['cores']))));
  process.stdout.write(`${clusterPrint(cluster, Number(m['cores']))}\nresults: ${file}\nchart: ${writeChart()}\n`);
}

/** BENCH_ONLY=stream: prints the tables and the target lines, records the run, and replaces the streams section of docs/benchmarks.md. */
async function onlyStream(certDir: string): Promise<void> {
  const started = new Date();
  const m = machine();
  const stream = await streamBench(certDir, RUNS, SECONDS);
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  const file = join(ROOT, 'bench/results', `${started.toISOString().replace(/[:.]/g, '-')}-stream.json`);
  writeFileSync(file, JSON.stringify({ started: started.toISOString(), machine: m, runs: RUNS, seconds: SECONDS, stream }, null, 2));
  const when = `Written by \`BENCH_ONLY=stream\` on ${started.toISOString()}, a run of its own (the sections above come from others): `
    + `${m['cpu']}, ${m['cores']} cores, Node ${m['node']}; medians of ${RUNS} run${RUNS === 1 ? '' : 's'} (loads of ${SECONDS} s); `
    + `1-minute load average ${stream.loadAvg.before.toFixed(2)} before, ${stream.loadAvg.after.toFixed(2)} after.`;
  const docs = join(ROOT, 'docs/benchmarks.md');
  writeFileSync(docs, spliceStreamSection(readFileSync(docs, 'utf8'), streamSection(stream, when)));
  process.stdout.write(`${streamPrint(stream)}\nresults: ${file}\nchart: ${writeChart()}\n`);
}

/** `markdown` with the holds, cluster and streams sections docs/benchmarks.md has now, which only BENCH_ONLY=holds, =cluster and =stream write. */
function keepHolds(markdown: string): string {
  const docs = join(ROOT, 'docs/benchmarks.md');
  const now = existsSync(docs) ? readFileSync(docs, 'utf8') : '';
  const holds = holdsSectionOf(now);
  const cluster = clusterSectionOf(now);
  const stream = streamSectionOf(now);
  const withHolds = holds ? spliceHoldsSection(markdown, [holds, '']) : markdown;
  const withCluster = cluster ? spliceClusterSection(withHolds, [cluster, '']) : withHolds;
  return stream ? spliceStreamSection(withCluster, [stream, '']) : withCluster;
}

await main();
