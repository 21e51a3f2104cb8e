/** The RSS of some processes, read from /proc/PID/status (VmRSS) every 100 ms, for its peak. */
import { readFileSync } from 'node:fs';

export const RSS_SAMPLE_MS = 100;

/** VmRSS of `pid` in bytes (Linux), or NaN once it has gone. */
export function vmRssBytes(pid: number): number {
  try {
    const line = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return line ? Number(line[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

export interface RssReading {
  /** Bytes, when sampling began. */
  before: number;
  /** The most seen, bytes. */
  peak: number;
  /** The last sample, taken when sampling stopped, bytes. */
  end: number;
}

/** Samples `pids` from now until `stop()`, which returns each one's reading. */
export function sampleRss(pids: readonly number[]): { stop(): RssReading[] } {
  const readings = pids.map((pid) => {
    const now = vmRssBytes(pid);
    return { before: now, peak: now, end: now };
  });
  const sample = (): void => {
    pids.forEach((pid, i) => {
      const now = vmRssBytes(pid);
      const r = readings[i]!;
      r.peak = Math.max(r.peak, now);
      r.end = now;
    });
  };
  const timer = setInterval(sample, RSS_SAMPLE_MS);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return readings;
    },
  };
}
