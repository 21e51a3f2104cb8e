/**
 * The `job ended` lines a node writes to stdout (its metrics observer logs one for each job
 * that ends, right after the end is committed): when, by the node's own clock, each job
 * ended. The holds bench reads these instead of polling `GET /_rp/jobs/ID`, so that the
 * measurement neither waits on a poll interval nor loads the node it measures.
 */
import type { Readable } from 'node:stream';

export interface JobEnd {
  /** The line's `time`: Date.now() on the node when the end was logged, whole ms. */
  atMs: number;
  /** Date.now() here when the line was read: never before atMs, one clock. */
  seenMs: number;
  status: string;
}

const MARK = '"job ended"';

export class JobEndLines {
  readonly #ended = new Map<string, JobEnd>();
  readonly #waiters = new Map<string, (end: JobEnd) => void>();
  #buffer = '';

  /** Reads `stream` (a node's stdout) to its end; every line is consumed, so the node never blocks on a full pipe. */
  constructor(stream: Readable) {
    stream.on('data', (chunk: Buffer) => this.#feed(chunk.toString()));
  }

  /** Resolves when the job's `job ended` line has come (at once if it came already). */
  wait(job: string, timeoutMs: number): Promise<JobEnd> {
    const seen = this.#take(job);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(job);
        reject(new Error(`bench: no "job ended" line for job ${job} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.set(job, (end) => {
        clearTimeout(timer);
        resolve(end);
      });
    });
  }

  /** Forgets what came for jobs nobody waits on (those measured another way). */
  clear(): void {
    this.#ended.clear();
  }

  #take(job: string): JobEnd | undefined {
    const end = this.#ended.get(job);
    if (end) this.#ended.delete(job);
    return end;
  }

  #feed(text: string): void {
    // Most lines are per-event lines; only a chunk that holds a job end is split and parsed.
    if (!this.#buffer && !text.includes(MARK)) {
      const nl = text.lastIndexOf('\n');
      if (nl === text.length - 1) return;
      this.#buffer = text.slice(nl + 1);
      return;
    }
    this.#buffer += text;
    let nl: number;
    while ((nl = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      if (line.includes(MARK)) this.#line(line);
    }
  }

  #line(line: string): void {
    let record: { job?: unknown; status?: unknown; time?: unknown };
    try {
      record = JSON.parse(line) as typeof record;
    } catch {
      return; // not a log line
    }
    if (typeof record.job !== 'string' || typeof record.time !== 'string') return;
    const end = { atMs: Date.parse(record.time), seenMs: Date.now(), status: String(record.status) };
    const waiter = this.#waiters.get(record.job);
    if (waiter) {
      this.#waiters.delete(record.job);
      waiter(end);
    } else {
      this.#ended.set(record.job, end);
    }
  }
}
