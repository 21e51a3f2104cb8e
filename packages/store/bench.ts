/**
 * Durable accepts per second through the group commit, at 1 and 32 concurrent writers,
 * with each accept's latency (from `insert()` to its promise resolving, that is after the
 * COMMIT and its fsync). Not run by the tests.
 *
 *   node --import tsx packages/store/bench.ts [seconds=3] [bodyBytes=256] [dir]
 *
 * The store lives in a fresh directory under the OS temp dir (or `dir`): put it on the
 * disk you care about, since an fsync costs what that disk makes it cost.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Store } from './src/index.js';

const seconds = Number(process.argv[2] ?? 3);
const bodyBytes = Number(process.argv[3] ?? 256);
const root = mkdtempSync(join(process.argv[4] ?? tmpdir(), 'rp-store-bench-'));

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** One write plus fsync of 4 KiB, the floor under a single writer's commit. */
function fsyncFloorMs(samples = 200): number {
  const file = join(root, 'fsync-probe');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  const times = new Float64Array(samples);
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    writeSync(fd, block, 0, block.length, i * block.length);
    fsyncSync(fd);
    times[i] = performance.now() - t0;
  }
  closeSync(fd);
  return percentile(times.sort(), 50);
}

async function writer(store: Store, body: Buffer, until: number, latencies: number[]): Promise<void> {
  while (performance.now() < until) {
    const t0 = performance.now();
    await store.jobs.insert({ target: 'client/bench', verb: 'post', noun: ['bench', 'accept'], body, mimeType: 'application/json', timeoutMs: 30_000, ttlMs: 86_400_000 });
    latencies.push(performance.now() - t0);
  }
}

async function run(concurrency: number): Promise<void> {
  const dir = join(root, `c${concurrency}`);
  const store = Store.open(dir);
  const body = Buffer.alloc(bodyBytes, 0x61);
  const latencies: number[] = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, () => writer(store, body, until, latencies)));
  const elapsedS = (performance.now() - started) / 1000;
  const stats = store.stats;
  store.close();
  const sorted = Float64Array.from(latencies).sort();
  const line = [
    `c${concurrency}:`,
    `${Math.round(latencies.length / elapsedS)} accepts/s`,
    `p50 ${percentile(sorted, 50).toFixed(3)} ms`,
    `p99 ${percentile(sorted, 99).toFixed(3)} ms`,
    `(${latencies.length} accepts in ${stats.commits} commits, ${(stats.writes / stats.commits).toFixed(1)} per commit, largest ${stats.largestBatch};`,
    `${stats.checkpoints} checkpoints)`,
  ];
  console.log(line.join(' '));
}

try {
  console.log(`store bench: ${seconds} s per run, ${bodyBytes}-byte bodies, in ${root}`);
  console.log(`fsync floor: p50 ${fsyncFloorMs().toFixed(3)} ms per 4 KiB write+fsync`);
  await run(1);
  await run(32);
} finally {
  rmSync(root, { recursive: true, force: true });
}
