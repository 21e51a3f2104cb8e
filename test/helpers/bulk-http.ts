/**
 * Bulk HTTP exchanges for the stream tests (SPEC §12): a body sent chunked as it is
 * made, and the answer hashed as it comes; neither is ever held whole.
 */
import { createHash, type Hash } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';

/** What came back, and what was sent. */
export interface Exchange {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Answer bytes, and their sha256. */
  bytes: number;
  sha256: string;
  /** The first 64 KiB of the answer, as text (a JSON reply whole). */
  text: string;
  /** The answer ended clean (not aborted). */
  complete: boolean;
  /** Request body bytes, and their sha256 (as made, before they went out). */
  sent: number;
  sentSha256: string;
  /** From the request to the last byte of the answer, ms. */
  ms: number;
}

export interface ExchangeOptions {
  method?: string;
  /** Sent chunked (no Content-Length), each piece hashed as it is taken. */
  body?: Iterable<Buffer>;
  headers?: Record<string, string>;
  /** Default: a socket of its own (`agent: false`). */
  agent?: http.Agent | false;
  /** Sees the response before its first byte is read: to pause it, watch its socket. */
  onResponse?: (res: http.IncomingMessage, req: http.ClientRequest) => void;
  /** The whole exchange fails past this: a test never hangs on it. */
  timeoutMs?: number;
}

const KEPT = 64 * 1024;

function* hashing(pieces: Iterable<Buffer>, hash: Hash, count: { bytes: number }): Generator<Buffer> {
  for (const piece of pieces) {
    hash.update(piece);
    count.bytes += piece.length;
    yield piece;
  }
}

/** One request, its body streamed and its answer hashed as it comes. */
export function exchange(url: string, options: ExchangeOptions = {}): Promise<Exchange> {
  const { method = 'GET', body, headers = {}, agent = false, onResponse, timeoutMs = 180_000 } = options;
  const started = performance.now();
  const sentHash = createHash('sha256');
  const sent = { bytes: 0 };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${url}: no end within ${timeoutMs} ms`)), timeoutMs);
    const req = http.request(url, { method, headers, agent }, (res) => {
      const hash = createHash('sha256');
      const kept: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        if (bytes < KEPT) kept.push(chunk);
        bytes += chunk.length;
      });
      let settled = false;
      const done = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({
          status: res.statusCode!, headers: res.headers, bytes, sha256: hash.digest('hex'),
          text: Buffer.concat(kept).subarray(0, KEPT).toString(), complete: res.complete,
          sent: sent.bytes, sentSha256: sentHash.digest('hex'), ms: performance.now() - started,
        });
      };
      res.once('end', done);
      res.once('aborted', done);
      res.once('error', done);
      res.once('close', done);
      onResponse?.(res, req);
    });
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    if (body) Readable.from(hashing(body, sentHash, sent)).pipe(req);
    else req.end();
  });
}

/** Percentiles of a sample, in its own unit. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** One small GET on `agent`, timed in microseconds; resolves with its status and time. */
export function timedGet(url: string, agent: http.Agent): Promise<{ status: number; us: number }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.get(url, { agent }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode!, us: Number(process.hrtime.bigint() - started) / 1000 }));
      res.once('error', reject);
    });
    req.once('error', reject);
  });
}
