/**
 * What the stream bench (bench/stream.ts) measures, and the samples it gathers run by
 * run until they become medians. A transfer that fails (stalls, aborts, short) is
 * recorded as such and left out of the figures; the targets say so.
 */
import type autocannon from 'autocannon';
import type { LoadResult } from './full-path.js';
import { median, percentile } from './lib.js';
import type { RssReading } from './rss-sampler.js';

export const RESTPIPE = 'restpipe';
export const RAW_TLS = 'raw node:tls';
export const SSH = 'ssh -R';
export const PLAIN = 'plain HTTP, direct';
export const BARE = 'bare Fastify';
export const ECHO_64K = '64 KiB echo';
export const ECHO_1M = '1 MiB echo';
export const ECHO_CONNECTIONS = 64;

export type Direction = 'download' | 'upload';
export const DIRECTIONS: readonly Direction[] = ['download', 'upload'];
export type SmallWhen = 'idle' | 'during download' | 'during upload';
export const SMALL_WHEN: readonly SmallWhen[] = ['idle', 'during download', 'during upload'];
export type NodeProcess = 'rp-server' | 'rp-client';

export interface BulkRow {
  target: string;
  direction: Direction;
  /** Median of runs, 10^6 bytes per second. */
  mbPerSec: number;
  /** Each run's figure. */
  runs: number[];
  /** What processes other than the bench's used meanwhile, in cores (median; NaN for ssh -R, whose ssh and sshd it would count). */
  otherCores: number;
}

export interface SmallRow {
  when: SmallWhen;
  /** Medians of runs. */
  p50Ms: number;
  p99Ms: number;
  /** GETs timed per run (median). */
  count: number;
  /** The speed of the bulk transfer they ran beside (median), MB/s. */
  bulkMbPerSec: number;
  /** What processes other than the bench's used meanwhile, in cores (median). */
  otherCores: number;
}

/** A full-path.ts load row, with what other processes used meanwhile, in cores (median; NaN for ssh -R). */
export interface EchoRow extends LoadResult {
  otherCores: number;
}

export interface MemoryRow {
  process: NodeProcess;
  direction: Direction;
  /** Medians of runs, MiB. */
  beforeMiB: number;
  peakMiB: number;
  endMiB: number;
  growthMiB: number;
  /** The largest growth (peak - before) in any run, MiB. */
  maxGrowthMiB: number;
  /** CPU (user + system) the process spent per GiB moved, ms (median). */
  cpuMsPerGiB: number;
}

export interface StreamFailure {
  run: number;
  what: string;
  error: string;
}

export interface StreamResult {
  bytes: number;
  bulk: BulkRow[];
  small: SmallRow[];
  memory: MemoryRow[];
  echo: EchoRow[];
  /** Transfers that did not complete, each left out of the figures. */
  failures: StreamFailure[];
  /** Transfers tried, restpipe's and the floors', the warm-up's included. */
  transfers: number;
  /** Of which restpipe's. */
  restpipeTransfers: number;
  /** The Content-Length restpipe's gateway answered the bulk GET with (the handler gave `size`). */
  contentLength: string | undefined;
  /** The raw TLS floor's negotiated suite. */
  cipher: string;
  /** Why `ssh -R` was not measured, if it was not. */
  sshSkipped?: string;
  loadAvg: { before: number; after: number };
}

export interface MemorySample {
  reading: RssReading;
  cpuMs: number;
}

const MIB = 2 ** 20;

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  m.set(k, [...(m.get(k) ?? []), v]);
}

/** The samples of every run, by what they measure. */
export class StreamSamples {
  readonly #bulk = new Map<string, Array<{ mbPerSec: number; otherCores: number }>>();
  readonly #memory = new Map<string, MemorySample[]>();
  readonly #small = new Map<SmallWhen, Array<{ times: number[]; bulkMbPerSec: number; otherCores: number }>>();
  readonly #echo = new Map<string, Array<{ result: autocannon.Result; otherCores: number }>>();
  readonly failures: StreamFailure[] = [];
  transfers = 0;
  restpipeTransfers = 0;

  constructor(readonly bytes: number) {}

  bulk(target: string, direction: Direction, mbPerSec: number, otherCores: number): void {
    push(this.#bulk, `${target}|${direction}`, { mbPerSec, otherCores });
  }

  memory(process: NodeProcess, direction: Direction, sample: MemorySample): void {
    push(this.#memory, `${process}|${direction}`, sample);
  }

  small(when: SmallWhen, times: number[], bulkMbPerSec: number, otherCores: number): void {
    push(this.#small, when, { times, bulkMbPerSec, otherCores });
  }

  echo(target: string, payload: string, result: autocannon.Result, otherCores: number): void {
    push(this.#echo, `${target}|${payload}`, { result, otherCores });
  }

  /** The medians, in the order the samples first came. */
  summary(): Pick<StreamResult, 'bulk' | 'small' | 'memory' | 'echo' | 'failures' | 'transfers' | 'restpipeTransfers'> {
    return {
      bulk: [...this.#bulk].map(([key, values]) => {
        const [target, direction] = key.split('|') as [string, Direction];
        const runs = values.map((v) => v.mbPerSec);
        return { target, direction, mbPerSec: median(runs), runs, otherCores: median(values.map((v) => v.otherCores)) };
      }),
      small: [...this.#small].map(([when, values]) => ({
        when,
        p50Ms: median(values.map((v) => percentile(v.times, 50))),
        p99Ms: median(values.map((v) => percentile(v.times, 99))),
        count: median(values.map((v) => v.times.length)),
        bulkMbPerSec: median(values.map((v) => v.bulkMbPerSec)),
        otherCores: median(values.map((v) => v.otherCores)),
      })),
      memory: [...this.#memory].map(([key, samples]) => this.#memoryRow(key, samples)),
      echo: [...this.#echo].map(([key, values]) => ({ ...echoRow(key, values.map((v) => v.result)), otherCores: median(values.map((v) => v.otherCores)) })),
      failures: this.failures,
      transfers: this.transfers,
      restpipeTransfers: this.restpipeTransfers,
    };
  }

  #memoryRow(key: string, samples: MemorySample[]): MemoryRow {
    const [process, direction] = key.split('|') as [NodeProcess, Direction];
    const of = (f: (r: RssReading) => number): number => median(samples.map((x) => f(x.reading) / MIB));
    return {
      process, direction,
      beforeMiB: of((r) => r.before),
      peakMiB: of((r) => r.peak),
      endMiB: of((r) => r.end),
      growthMiB: of((r) => r.peak - r.before),
      maxGrowthMiB: Math.max(...samples.map((x) => (x.reading.peak - x.reading.before) / MIB)),
      cpuMsPerGiB: median(samples.map((x) => x.cpuMs / (this.bytes / 2 ** 30))),
    };
  }
}

function echoRow(key: string, results: autocannon.Result[]): LoadResult {
  const [target, payload] = key.split('|') as [string, string];
  return {
    target, payload, connections: ECHO_CONNECTIONS,
    reqPerSec: median(results.map((r) => r.requests.average)),
    p50Ms: median(results.map((r) => r.latency.p50)),
    p99Ms: median(results.map((r) => r.latency.p99)),
    mbPerSec: median(results.map((r) => r.throughput.average / 1e6)),
    errors: results.reduce((a, r) => a + r.errors + r.non2xx, 0),
  };
}
