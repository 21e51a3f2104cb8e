/**
 * The tables of the stream part (SPEC §12): printed by `BENCH_ONLY=stream`, and the
 * "Streams" section of docs/benchmarks.md, which only it writes (the full run and
 * BENCH_RENDER keep it as they find it).
 */
import { RSS_SAMPLE_MS } from './rss-sampler.js';
import { sectionOf, spliceSection } from './sections.js';
import { sshVersion } from './ssh.js';
import { WARM_UP_BYTES } from './stream.js';
import {
  BARE, DIRECTIONS, ECHO_1M, ECHO_64K, ECHO_CONNECTIONS, PLAIN, RAW_TLS, RESTPIPE, SSH,
  type Direction, type StreamResult,
} from './stream-result.js';

export const STREAM_HEADING = '## Streams (SPEC §12): bulk transfers, small events beside them, large echo';
export const STREAM_RSS_LIMIT_MIB = 64;

const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : '-');
/** A ratio: `0.52x`, or `-` when a side is missing. */
const times = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(2)}x` : '-');

/** `1073741824` -> `1 GiB`; other sizes in MiB or bytes. */
export function size(bytes: number): string {
  if (bytes >= 2 ** 30 && bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30} GiB`;
  if (bytes >= 2 ** 20) return `${fmt(bytes / 2 ** 20, bytes % 2 ** 20 ? 1 : 0)} MiB`;
  return `${bytes} bytes`;
}

export interface StreamTarget {
  name: string;
  measured: string;
  met: boolean;
}

const bulkOf = (r: StreamResult, target: string, d: Direction): number => r.bulk.find((b) => b.target === target && b.direction === d)?.mbPerSec ?? NaN;
const otherOf = (r: StreamResult, target: string, d: Direction): number => r.bulk.find((b) => b.target === target && b.direction === d)?.otherCores ?? NaN;
/** Other processes' median CPU during a measure, in cores, past which a comparison is marked as not fair. */
const SHARED_CORES = 0.1;

/** A warning when other processes took more than SHARED_CORES during either side of a comparison. */
function unfair(others: number[]): string {
  return others.some((x) => !(x <= SHARED_CORES)) ? `; not a fair comparison: other processes took ${others.map((x) => fmt(x, 2)).join(' and ')} cores meanwhile (medians)` : '';
}
const echoOf = (r: StreamResult, target: string, payload: string) => r.echo.find((e) => e.target === target && e.payload === payload);
const smallOf = (r: StreamResult, when: string) => r.small.find((s) => s.when === when);

export function streamTargets(r: StreamResult): StreamTarget[] {
  const failed = r.failures.filter((f) => f.what.includes(RESTPIPE));
  const checks: StreamTarget[] = [{
    name: 'every restpipe transfer completes (warm-up included)',
    measured: failed.length ? `${failed.length} of ${r.restpipeTransfers} failed (listed below the tables; left out of the figures)` : `all ${r.restpipeTransfers}`,
    met: failed.length === 0,
  }];
  for (const d of DIRECTIONS) {
    const ratio = bulkOf(r, RESTPIPE, d) / bulkOf(r, RAW_TLS, d);
    const others = [otherOf(r, RESTPIPE, d), otherOf(r, RAW_TLS, d)];
    checks.push({ name: `bulk ${d} (${size(r.bytes)}): MB/s >= 0.5x raw node:tls`, measured: `${times(ratio)} (${fmt(bulkOf(r, RESTPIPE, d))} vs ${fmt(bulkOf(r, RAW_TLS, d))} MB/s)${unfair(others)}`, met: ratio >= 0.5 });
  }
  const mib = (echoOf(r, RESTPIPE, ECHO_1M)?.mbPerSec ?? NaN) / (echoOf(r, BARE, ECHO_1M)?.mbPerSec ?? NaN);
  const echoOthers = (payload: string): number[] => [echoOf(r, RESTPIPE, payload)?.otherCores ?? NaN, echoOf(r, BARE, payload)?.otherCores ?? NaN];
  checks.push({ name: `1 MiB echo, c${ECHO_CONNECTIONS}: MB/s >= 0.5x bare Fastify`, measured: `${times(mib)}${unfair(echoOthers(ECHO_1M))}`, met: mib >= 0.5 });
  const idle = smallOf(r, 'idle')?.p99Ms ?? NaN;
  for (const d of DIRECTIONS) {
    const during = smallOf(r, `during ${d}`)?.p99Ms ?? NaN;
    const others = [smallOf(r, `during ${d}`)?.otherCores ?? NaN, smallOf(r, 'idle')?.otherCores ?? NaN];
    checks.push({ name: `small-event p99 during a bulk ${d} <= 3x idle p99`, measured: `${times(during / idle)} (${fmt(during, 3)} vs ${fmt(idle, 3)} ms)${unfair(others)}`, met: during / idle <= 3 });
  }
  const worst = r.memory.reduce((a, m) => (m.maxGrowthMiB > a.maxGrowthMiB ? m : a), r.memory[0]!);
  checks.push({
    name: `RSS growth during a ${size(r.bytes)} transfer < ${STREAM_RSS_LIMIT_MIB} MiB (each node, each way, worst run)`,
    measured: worst ? `${fmt(worst.maxGrowthMiB, 1)} MiB at most (${worst.process}, ${worst.direction})` : '-',
    met: r.memory.length > 0 && r.memory.every((m) => m.maxGrowthMiB < STREAM_RSS_LIMIT_MIB),
  });
  const e64 = echoOf(r, RESTPIPE, ECHO_64K)?.reqPerSec ?? NaN;
  const ssh = echoOf(r, SSH, ECHO_64K);
  if (ssh) checks.push({ name: `64 KiB echo, c${ECHO_CONNECTIONS}: req/s >= 1.2x ssh -R`, measured: `${times(e64 / ssh.reqPerSec)}${unfair(echoOthers(ECHO_64K).slice(0, 1))}`, met: e64 / ssh.reqPerSec >= 1.2 });
  const bare = e64 / (echoOf(r, BARE, ECHO_64K)?.reqPerSec ?? NaN);
  checks.push({ name: `64 KiB echo, c${ECHO_CONNECTIONS}: req/s >= 0.3x bare Fastify`, measured: `${times(bare)}${unfair(echoOthers(ECHO_64K))}`, met: bare >= 0.3 });
  return checks;
}

export function bulkTable(r: StreamResult): string[] {
  const rows = ['| direction | target | MB/s | each run | ratio to raw node:tls | other processes, cores |', '| --- | --- | --- | --- | --- | --- |'];
  for (const d of DIRECTIONS) {
    for (const target of [RESTPIPE, RAW_TLS, SSH, PLAIN]) {
      const b = r.bulk.find((x) => x.target === target && x.direction === d);
      if (b) rows.push(`| ${d} | ${target} | ${fmt(b.mbPerSec)} | ${b.runs.map((x) => fmt(x)).join(', ')} | ${times(b.mbPerSec / bulkOf(r, RAW_TLS, d))} | ${fmt(b.otherCores, 2)} |`);
    }
  }
  return rows;
}

export function smallTable(r: StreamResult): string[] {
  const idle = smallOf(r, 'idle')?.p99Ms ?? NaN;
  const rows = ['| GET /server/time, one at a time | GETs per run | p50 ms | p99 ms | p99 ratio to idle | bulk MB/s meanwhile | other processes, cores |', '| --- | --- | --- | --- | --- | --- | --- |'];
  for (const s of r.small) rows.push(`| ${s.when} | ${fmt(s.count)} | ${fmt(s.p50Ms, 3)} | ${fmt(s.p99Ms, 3)} | ${times(s.p99Ms / idle)} | ${fmt(s.bulkMbPerSec)} | ${fmt(s.otherCores, 2)} |`);
  return rows;
}

export function memoryTable(r: StreamResult): string[] {
  const rows = ['| process | transfer | RSS before MiB | peak MiB | at the end MiB | growth MiB (median) | growth MiB (worst run) | CPU ms per GiB |', '| --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const m of r.memory) {
    rows.push(`| ${m.process} | ${m.direction} | ${fmt(m.beforeMiB, 1)} | ${fmt(m.peakMiB, 1)} | ${fmt(m.endMiB, 1)} | ${fmt(m.growthMiB, 1)} | ${fmt(m.maxGrowthMiB, 1)} | ${fmt(m.cpuMsPerGiB)} |`);
  }
  return rows;
}

export function echoTable(r: StreamResult): string[] {
  const rows = ['| payload | c | target | req/s | p50 ms | p99 ms | MB/s | ratio to bare (req/s) | errors | other processes, cores |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'];
  for (const payload of [ECHO_64K, ECHO_1M]) {
    const bare = echoOf(r, BARE, payload)?.reqPerSec ?? NaN;
    for (const target of [BARE, RESTPIPE, SSH]) {
      const e = echoOf(r, target, payload);
      if (e) rows.push(`| ${payload} | ${e.connections} | ${target} | ${fmt(e.reqPerSec)} | ${fmt(e.p50Ms)} | ${fmt(e.p99Ms)} | ${fmt(e.mbPerSec, 1)} | ${times(e.reqPerSec / bare)} | ${e.errors} | ${fmt(e.otherCores, 2)} |`);
    }
  }
  return rows;
}

/** The transfers that did not complete, one line each. */
export function failureLines(r: StreamResult): string[] {
  return r.failures.map((f) => `- ${f.run ? `run ${f.run}` : 'warm-up'}, ${f.what}: ${f.error}`);
}

function targetRows(r: StreamResult): string[] {
  return ['| target | measured | met |', '| --- | --- | --- |', ...streamTargets(r).map((t) => `| ${t.name} | ${t.measured} | ${t.met ? 'yes' : '**no**'} |`)];
}

/** The section of docs/benchmarks.md; `when` says which run it comes from. */
export function streamSection(r: StreamResult, when: string): string[] {
  return [
    STREAM_HEADING,
    '',
    when,
    `A real \`rp-server --handler bench/stream-handler.ts\` and a real \`rp-client\` (default flags: \`--max-event-bytes\` 4 MiB,`,
    '`--stream-window-bytes` 262144; `--statsd off`, info logging) on loopback. The handler is the demo handler with two routes:',
    `\`GET /server/bulk//N\` answers \`reply.stream(source, {size: N})\`, the source handing out one 64 KiB Buffer again and again`,
    '(cheap to make), and `POST /server/sink` reads `body.stream` to its end and answers the byte count. The bench reads',
    'with node\'s http client on a keep-alive socket, discarding the data as it comes, and checks the count.',
    `Each transfer moves ${size(r.bytes)} (\`BENCH_STREAM_BYTES\`); the targets take turns going first, run by run.`,
    '',
    ...targetRows(r),
    '',
    '### Bulk: one body each way',
    '',
    `- raw node:tls: a mutual-TLS socket (restpipe's TLS settings: TLS 1.3, its AEAD list; negotiated ${r.cipher || '?'}) in a child`,
    '  process writes the same 64 KiB Buffer (download) or reads and counts (upload); the bench is the other end. Timed',
    '  from the request, after the handshake, to the last byte (or the count).',
    `- ssh -R: the bare Fastify, answering the same two routes, behind \`ssh -R\` (${sshVersion() || 'OpenSSH'}, default ciphers) to a`,
    `  private \`sshd\` on loopback${r.sshSkipped ? ` (skipped: ${r.sshSkipped})` : ''}; ${PLAIN}: the same bare Fastify, no tunnel.`,
    '- "Other processes" (here and in the tables below) is the CPU that processes other than the bench\'s used meanwhile: all of',
    '  /proc/stat\'s busy time less that of the two nodes, the two floors and the bench process, median of runs; the machine is',
    '  shared. Not shown for ssh -R, whose ssh, sshd and Fastify it would count.',
    `- restpipe's gateway answered the first ${size(WARM_UP_BYTES)} download with Content-Length: ${r.contentLength ?? 'none (chunked)'}.`,
    '',
    ...bulkTable(r),
    '',
    '### Small events beside a bulk transfer',
    '',
    '`GET /server/time` on the client gateway, one at a time on a keep-alive socket of its own, timed with `performance.now()`:',
    `idle for the load duration, then from the start to the end of a ${size(r.bytes)} restpipe download, and of an upload, on the same`,
    'pipe (those transfers are not counted in the bulk table). Medians of runs.',
    '',
    ...smallTable(r),
    '',
    '### Memory of the two nodes during a bulk transfer',
    '',
    `VmRSS of the rp-server and rp-client processes from \`/proc/PID/status\`, sampled every ${RSS_SAMPLE_MS} ms from just before each measured`,
    `${size(r.bytes)} restpipe transfer to its end (the nodes have moved ${size(WARM_UP_BYTES)} each way as a warm-up first).`,
    'Growth is the peak less the reading before; CPU is user + system time from `/proc/PID/stat` (10 ms ticks).',
    '',
    ...memoryTable(r),
    '',
    `### 64 KiB and 1 MiB echo, c${ECHO_CONNECTIONS}`,
    '',
    `autocannon (full-path.ts's load()) with ${ECHO_CONNECTIONS} connections: \`POST /server/echo\` on the client gateway (the demo`,
    'handler\'s `post_echo`, which streams a streamed body back), on the bare Fastify, and through the `ssh -R` tunnel. A 1 MiB',
    'body is under `--max-event-bytes`, so it goes as one event, not as a stream. autocannon\'s latencies are whole ms.',
    '',
    ...echoTable(r),
    '',
    ...(r.failures.length ? [`### Transfers that did not complete (${r.failures.length} of ${r.transfers} tried)`, '', ...failureLines(r), ''] : []),
  ];
}

/** What `BENCH_ONLY=stream` prints. */
export function streamPrint(r: StreamResult): string {
  const lines = streamTargets(r).map((t) => `${t.name}: ${t.met ? 'met' : 'not met'}, measured ${t.measured}`);
  return [`each transfer ${size(r.bytes)}; raw TLS ${r.cipher}; Content-Length of restpipe's first ${size(WARM_UP_BYTES)} download: ${r.contentLength ?? 'none'}`, '',
    ...bulkTable(r), '', ...smallTable(r), '', ...memoryTable(r), '', ...echoTable(r), '',
    ...(r.failures.length ? [`transfers that did not complete (${r.failures.length} of ${r.transfers} tried):`, ...failureLines(r), ''] : []), ...lines,
    `1-minute load average: ${fmt(r.loadAvg.before, 2)} before, ${fmt(r.loadAvg.after, 2)} after`, ''].join('\n');
}

export const streamSectionOf = (markdown: string): string | undefined => sectionOf(markdown, STREAM_HEADING);
export const spliceStreamSection = (markdown: string, section: string[]): string => spliceSection(markdown, STREAM_HEADING, section);
