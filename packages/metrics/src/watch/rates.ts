/** One bucket of the rate and latency charts (SPEC §13), as the page draws it. */
export interface RatePoint {
  /** Start of the bucket, ms since the epoch. */
  t: number;
  count: number;
  errors: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export const RATE_BUCKET_MS = 5_000;
/** Five minutes of buckets. */
export const RATE_BUCKETS = 60;
/** Latency bins: bin i holds durations up to 2^(i/4) µs, so a percentile is within 19 % of the true one. */
const BINS = 4 * 34;
const BINS_PER_OCTAVE = 4;

interface Bucket {
  start: number;
  count: number;
  errors: number;
  bins: Uint32Array;
}

/**
 * Events per bucket of 5 s over the last 5 minutes, and their latency percentiles from
 * log-spaced bins (as HdrHistogram does, coarser): adding an event is a few integer
 * stores, and memory is fixed (60 × 136 counters).
 */
export class Rates {
  readonly #buckets: Bucket[] = [];

  constructor(private readonly now: () => number = Date.now) {
    for (let i = 0; i < RATE_BUCKETS; i++) this.#buckets.push({ start: -1, count: 0, errors: 0, bins: new Uint32Array(BINS) });
  }

  /** `at`: when it ended, ms since the epoch (the caller has read the clock already). */
  add(ms: number, failed: boolean, at = this.now()): void {
    const bucket = this.#current(at);
    bucket.count += 1;
    if (failed) bucket.errors += 1;
    bucket.bins[binOf(ms)]! += 1;
  }

  /** The last 5 minutes, oldest first; a bucket with no event has count 0 and null percentiles. */
  points(): RatePoint[] {
    const newest = Math.floor(this.now() / RATE_BUCKET_MS) * RATE_BUCKET_MS;
    const points: RatePoint[] = [];
    for (let i = RATE_BUCKETS - 1; i >= 0; i--) {
      const start = newest - i * RATE_BUCKET_MS;
      const bucket = this.#buckets[(start / RATE_BUCKET_MS) % RATE_BUCKETS]!;
      points.push(bucket.start === start ? pointOf(bucket) : { t: start, count: 0, errors: 0, p50: null, p90: null, p99: null });
    }
    return points;
  }

  #current(at: number): Bucket {
    const start = Math.floor(at / RATE_BUCKET_MS) * RATE_BUCKET_MS;
    const bucket = this.#buckets[(start / RATE_BUCKET_MS) % RATE_BUCKETS]!;
    if (bucket.start !== start) {
      bucket.start = start;
      bucket.count = 0;
      bucket.errors = 0;
      bucket.bins.fill(0);
    }
    return bucket;
  }
}

function binOf(ms: number): number {
  const us = ms * 1000;
  if (!(us > 1)) return 0;
  return Math.min(BINS - 1, Math.ceil(Math.log2(us) * BINS_PER_OCTAVE));
}

/** The bin's upper bound, in ms. */
function binMs(bin: number): number {
  return 2 ** (bin / BINS_PER_OCTAVE) / 1000;
}

function pointOf(bucket: Bucket): RatePoint {
  return { t: bucket.start, count: bucket.count, errors: bucket.errors, p50: percentile(bucket, 0.5), p90: percentile(bucket, 0.9), p99: percentile(bucket, 0.99) };
}

function percentile({ bins, count }: Bucket, q: number): number | null {
  if (count === 0) return null;
  const rank = Math.ceil(q * count);
  let seen = 0;
  for (let bin = 0; bin < bins.length; bin++) {
    seen += bins[bin]!;
    if (seen >= rank) return Math.round(binMs(bin) * 1000) / 1000;
  }
  return null;
}
