/**
 * What the dashboard's call log costs (SPEC §13): the CPU per event of recording it in the
 * ring (and its rates), side by side in one run with the per-event log line a node writes
 * anyway (EventLines, formatted and batched to a file by BatchedStdout), and the page's size.
 * `npx tsx bench/watch.ts` prints the figures; `BENCH_ONLY=watch npm run bench` runs it too.
 */
import { closeSync, existsSync, openSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CallLog, ClosedLog } from '@restpipe/metrics';
import { BatchedStdout } from '../packages/cli/src/log-destination.js';
import { EventLines } from '../packages/cli/src/event-lines.js';
import { isoTimeOncePerMs } from '../packages/cli/src/logger.js';
import { ROOT } from './lib.js';

const EVENTS = Number(process.env['BENCH_WATCH_EVENTS'] ?? 1_000_000);
const ROUNDS = 5;

export interface WatchResult {
  events: number;
  ringNsPerEvent: number;
  logLineNsPerEvent: number;
  ratio: number;
  closedNsPerEntry: number;
  pageBytes: number;
  pageFiles: number;
}

/** A message as core publishes it for an event handled here. */
function message(i: number) {
  return {
    owner: {}, peer: 'node-a', ms: 0.05 + (i % 100) / 100, handlerName: 'get_time', returnCode: 0, requestId: `r-${i}`,
    failed: false, verb: 'get', noun: 'time', status: 200, bytesIn: 0, bytesOut: 27,
  };
}

function nsPer(count: number, run: () => void): number {
  const started = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - started) / count;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function pageSize(): { bytes: number; files: number } {
  const dir = join(ROOT, 'packages/gateway/ui');
  if (!existsSync(dir)) return { bytes: 0, files: 0 };
  const files = readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile());
  return { bytes: files.reduce((n, f) => n + statSync(join(dir, f)).size, 0), files: files.length };
}

export function watchBench(): WatchResult {
  const messages = Array.from({ length: 1000 }, (_, i) => message(i));
  const fd = openSync('/dev/null', 'w');
  const out = new BatchedStdout(fd);
  const lines = new EventLines(out, 'info', { role: 'server', pid: process.pid }, isoTimeOncePerMs);
  const calls = new CallLog();
  const closed = new ClosedLog();
  const ring: number[] = [];
  const log: number[] = [];
  const closes: number[] = [];
  // Alternated, so that both see the same machine noise; the first round warms the JIT and is dropped.
  for (let round = 0; round <= ROUNDS; round++) {
    const r = nsPer(EVENTS, () => {
      for (let i = 0; i < EVENTS; i++) calls.add('in', messages[i % 1000]!, false);
    });
    const l = nsPer(EVENTS, () => {
      for (let i = 0; i < EVENTS; i++) {
        const m = messages[i % 1000]!;
        lines.info({ requestId: m.requestId, peer: m.peer, handler: m.handlerName, durationMs: m.ms, returnCode: m.returnCode, failed: m.failed }, 'event handled');
      }
    });
    const c = nsPer(EVENTS / 10, () => {
      for (let i = 0; i < EVENTS / 10; i++) closed.add('node-a', '127.0.0.1:40000', 'heartbeat_timeout', false);
    });
    if (round > 0) {
      ring.push(r);
      log.push(l);
      closes.push(c);
    }
  }
  closeSync(fd);
  const page = pageSize();
  const ringNs = median(ring);
  const logNs = median(log);
  return { events: EVENTS, ringNsPerEvent: ringNs, logLineNsPerEvent: logNs, ratio: ringNs / logNs, closedNsPerEntry: median(closes), pageBytes: page.bytes, pageFiles: page.files };
}

export function watchPrint(r: WatchResult): string {
  return [
    `call log ring: ${r.ringNsPerEvent.toFixed(0)} ns per event; the event's log line: ${r.logLineNsPerEvent.toFixed(0)} ns; ratio ${r.ratio.toFixed(2)}x (${r.events} events, median of ${ROUNDS})`,
    `closed-connection ring: ${r.closedNsPerEntry.toFixed(0)} ns per entry`,
    `dashboard page: ${r.pageBytes} bytes in ${r.pageFiles} files (uncompressed)`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${watchPrint(watchBench())}\n`);
}
