/**
 * Resident memory of child processes (Linux /proc/PID/status, VmRSS), sampled while a
 * test runs. The sampling runs on a worker thread of its own: a test that keeps its
 * main thread busy (a synchronous source piped into a fast socket never yields) does
 * not make it miss the peak.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

export const MiB = 1024 * 1024;

/** VmRSS of process `pid` now, in bytes; NaN once it is gone (or off Linux). */
export function rssBytes(pid: number): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return NaN;
  }
  const match = /^VmRSS:\s*(\d+)\s*kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : NaN;
}

/** A clock every thread shares: ms since the epoch, with the fraction. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** One process's memory over a sampling run, in bytes. */
export interface RssTrace {
  pid: number;
  /** Taken when sampling began. */
  before: number;
  peak: number;
  /** Taken when sampling stopped. */
  end: number;
  /** Every sample, with its time (nowMs()). */
  samples: { at: number; bytes: number }[];
  /** The longest time between two samples, ms: how far the ~100 ms was kept. */
  longestGapMs: number;
}

/** peak - before, in MiB with one decimal: the figure a test prints and bounds. */
export function growthMiB(trace: RssTrace): number {
  return Math.round(((trace.peak - trace.before) / MiB) * 10) / 10;
}

/**
 * Growth over the later part of a run, MiB with one decimal: the peak of the samples after
 * `fraction` of the run's time, minus the first of them. A node's first MiBs warm it (V8's
 * young generation grows to its size, code is compiled); what grows after that grows with the data.
 */
export function lateGrowthMiB(trace: RssTrace, fraction = 0.25): number {
  const first = trace.samples[0]!.at;
  const from = first + (trace.samples[trace.samples.length - 1]!.at - first) * fraction;
  const later = samplesBetween(trace, from);
  if (later.length === 0) return 0;
  return Math.round(((Math.max(...later) - later[0]!) / MiB) * 10) / 10;
}

/** The samples taken from `from` to `to` (nowMs()). */
export function samplesBetween(trace: RssTrace, from: number, to = Infinity): number[] {
  return trace.samples.filter((s) => s.at >= from && s.at <= to).map((s) => s.bytes);
}

// The worker's own code: plain JS, so that it runs the same under vitest and tsx.
const SAMPLER = `
const { parentPort, workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const now = () => performance.timeOrigin + performance.now();
const rss = (pid) => {
  try {
    const m = /^VmRSS:\\s*(\\d+)\\s*kB/m.exec(readFileSync('/proc/' + pid + '/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch { return NaN; }
};
const traces = workerData.pids.map((pid) => ({ pid, before: NaN, peak: NaN, end: NaN, samples: [], longestGapMs: 0 }));
let last = 0;
const sample = () => {
  const at = now();
  if (last) for (const t of traces) t.longestGapMs = Math.max(t.longestGapMs, at - last);
  last = at;
  for (const t of traces) {
    const bytes = rss(t.pid);
    if (Number.isNaN(bytes)) continue;
    if (t.samples.length === 0) t.before = t.peak = bytes;
    t.samples.push({ at, bytes });
    t.peak = Math.max(t.peak, bytes);
    t.end = bytes;
  }
};
sample();
const timer = setInterval(sample, workerData.everyMs);
parentPort.postMessage('started');
parentPort.once('message', () => {
  clearInterval(timer);
  sample();
  parentPort.postMessage(traces);
});
`;

export interface RssSampler {
  /** Takes a last sample and returns each process's trace, in the order of the pids. */
  stop(): Promise<RssTrace[]>;
}

/** Starts sampling the VmRSS of `pids` every `everyMs`; resolves once the first sample is taken. */
export async function sampleRss(pids: readonly number[], everyMs = 100): Promise<RssSampler> {
  const worker = new Worker(SAMPLER, { eval: true, workerData: { pids: [...pids], everyMs } });
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the RSS sampler exited (${code})`)));
  });
  failed.catch(() => {}); // its exit after stop() is no failure
  const next = (): Promise<unknown> => Promise.race([new Promise((resolve) => worker.once('message', resolve)), failed]);
  await next();
  return {
    async stop(): Promise<RssTrace[]> {
      const traces = next();
      worker.postMessage('stop');
      const result = (await traces) as RssTrace[];
      await worker.terminate();
      return result;
    },
  };
}
