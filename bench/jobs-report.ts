/**
 * The tables of the durable jobs part: printed by `BENCH_ONLY=jobs`, and the
 * "Durable jobs" section of docs/benchmarks.md.
 */
import { ACCEPT, ACCEPT_AWAY, JETSTREAM, SYNC, type JobsResult } from './jobs.js';

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');

export const JOBS_HEADING = '## Durable jobs: `Prefer: respond-async` accepts against NATS JetStream';

/** How much more CPU the node with the store may use over the idle window and still count as "no polling". */
const IDLE_TOLERANCE_MS = 20;

export interface JobsTarget {
  name: string;
  measured: string;
  met: boolean;
}

function find(r: JobsResult, target: string, c: number) {
  return r.loads.find((l) => l.target === target && l.connections === c);
}

/** Whether the figure was acknowledged only after an fsync. */
function durable(r: JobsResult, target: string): string {
  if (target === ACCEPT || target === ACCEPT_AWAY) return 'yes: SQLite WAL, synchronous=FULL, group commit';
  if (target === SYNC) return 'n/a (not stored)';
  return r.jetstream?.syncAlways ? 'yes: sync_interval: always' : '**no**: fsync on its own schedule (2 min)';
}

export function jobsTable(r: JobsResult): string[] {
  const rows = ['| c | target | per s | p50 ms | p99 ms | ratio to JetStream (per s) | acked after fsync |', '| --- | --- | --- | --- | --- | --- | --- |'];
  for (const l of [...r.loads].sort((a, b) => b.connections - a.connections)) {
    const js = find(r, JETSTREAM, l.connections);
    const ratio = js && l.target !== SYNC ? `${fmt(l.perSec / js.perSec, 2)}x` : '-';
    rows.push(`| ${l.connections} | ${l.target} | ${fmt(l.perSec)} | ${fmt(l.p50Ms, 2)} | ${fmt(l.p99Ms, 2)} | ${ratio} | ${durable(r, l.target)}${l.errors ? ` (${l.errors} errors)` : ''} |`);
  }
  return rows;
}

export function jobsTargets(r: JobsResult): JobsTarget[] {
  const accept32 = find(r, ACCEPT, 32)?.perSec ?? NaN;
  const away32 = find(r, ACCEPT_AWAY, 32)?.perSec ?? NaN;
  const ratio = (c: number) => (find(r, ACCEPT, c)?.p50Ms ?? NaN) / (find(r, SYNC, c)?.p50Ms ?? NaN);
  const idleDiff = r.idle.withStoreCpuMs - r.idle.withoutStoreCpuMs;
  return [
    {
      name: 'durable accepts, c32: >= 5,000/s (2-core machine)',
      measured: `${fmt(accept32)}/s while delivering; ${fmt(away32)}/s with the peer away`,
      met: accept32 >= 5000,
    },
    { name: 'accept p50 <= 3x sync tiny p50 (c1 and c32)', measured: `c1 ${fmt(ratio(1), 2)}x, c32 ${fmt(ratio(32), 2)}x`, met: ratio(1) <= 3 && ratio(32) <= 3 },
    {
      name: `idle CPU with the store (${r.idle.queuedJobs} jobs waiting for an offline peer) = without it, within ${IDLE_TOLERANCE_MS} ms per ${r.idle.seconds} s`,
      measured: `${fmt(r.idle.withStoreCpuMs)} ms vs ${fmt(r.idle.withoutStoreCpuMs)} ms (${idleDiff >= 0 ? '+' : ''}${fmt(idleDiff)} ms)`,
      met: idleDiff <= IDLE_TOLERANCE_MS,
    },
  ];
}

function figures(r: JobsResult): string[] {
  const e = r.endToEnd;
  return [
    '| measure | value |',
    '| --- | --- |',
    `| end to end: ${e.jobs} jobs queued at c32, until none is unfinished | ${fmt(e.totalSeconds, 2)} s, **${fmt(e.jobsPerSec)} jobs/s** (accepting took ${fmt(e.acceptSeconds, 2)} s; ${e.failed} failed, expired or cancelled${e.errors ? `; ${e.errors} not accepted` : ''}) |`,
    `| idle CPU over ${r.idle.seconds} s, client with \`--data-dir\`, ${r.idle.queuedJobs} jobs waiting for an offline server | ${fmt(r.idle.withStoreCpuMs)} ms |`,
    `| idle CPU over ${r.idle.seconds} s, client with \`--data-dir off\`, same offline server | ${fmt(r.idle.withoutStoreCpuMs)} ms |`,
  ];
}

function jetstreamNote(r: JobsResult): string {
  if (!r.jetstream) return 'JetStream anchor skipped: nats-server is not installed (apt-get install nats-server).';
  if (r.jetstream.syncAlways) return `JetStream: ${r.jetstream.note}; its acks, like restpipe's accepts, follow an fsync.`;
  return `**Caveat: JetStream's acks are not durable against power loss here.** ${r.jetstream.note}: `
    + 'nats-server before 2.10 has no `sync_interval`, and its file store fsyncs on its own schedule (every 2 minutes), '
    + 'so a PubAck means "written to the page cache". restpipe answers 202 only after its group commit\'s fsync. '
    + 'The JetStream figures are therefore an upper bound for a durable JetStream on this disk.';
}

/** The section of docs/benchmarks.md; `when` says which run it comes from. */
export function jobsSection(r: JobsResult, when: string): string[] {
  return [
    JOBS_HEADING,
    '',
    when,
    '`rp-client --data-dir` in a fresh directory on the normal disk (ext4, not tmpfs), a real `rp-server`; `POST /server/echo`',
    'with a 17-byte JSON body on the client gateway, with `Prefer: respond-async` (202 once stored) and without (the',
    'synchronous call). After each accept load the bench waits until every accepted job is delivered, so deliveries',
    'never overlap the next load. The anchor: `nats-server -js`, its store_dir on the same disk, a file-storage stream,',
    'the same body published by the `nats` client over plain TCP, each publisher awaiting its PubAck. At c32 restpipe',
    'is loaded by autocannon (whole-ms latencies); at c1, and for JetStream, by closed loops timed with `performance.now()`.',
    'Idle CPU: utime + stime from /proc (10 ms ticks), both nodes side by side over the same seconds.',
    '',
    '| target | measured | met |',
    '| --- | --- | --- |',
    ...jobsTargets(r).map((t) => `| ${t.name} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`),
    '',
    ...jobsTable(r),
    '',
    ...figures(r),
    '',
    jetstreamNote(r),
    '',
  ];
}

/** What `BENCH_ONLY=jobs` prints. */
export function jobsPrint(r: JobsResult): string {
  return [...jobsTable(r), '', ...figures(r), '', jetstreamNote(r), '', '| target | measured | met |', '| --- | --- | --- |',
    ...jobsTargets(r).map((t) => `| ${t.name} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`), ''].join('\n');
}

/** `markdown` with its jobs section (if any) replaced by `section`, or `section` appended. */
export function spliceJobsSection(markdown: string, section: string[]): string {
  const start = markdown.indexOf(JOBS_HEADING);
  const rest = start < 0 ? -1 : markdown.indexOf('\n## ', start + JOBS_HEADING.length);
  const before = start < 0 ? `${markdown.trimEnd()}\n\n` : markdown.slice(0, start);
  const after = rest < 0 ? '' : markdown.slice(rest + 1);
  return `${before}${section.join('\n')}${after ? `\n${after}` : ''}`;
}
