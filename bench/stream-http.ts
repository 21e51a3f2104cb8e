/**
 * The HTTP side of the stream bench (bench/stream.ts): one bulk GET or POST through a
 * gateway (or any HTTP server), read with node's http client and discarded as it comes,
 * and a loop of small GETs one at a time, timed with performance.now().
 */
import http from 'node:http';
import { writeBulk } from './bulk-source.js';

export interface HttpBulkResult {
  bytes: number;
  ms: number;
  /** The Content-Length the answer came with, if any (a download's, from the handler's `size`). */
  contentLength: string | undefined;
}

/** A transfer that has not finished by then failed: 60 s, plus 1 s for each 10 MB. */
const timeoutMs = (bytes: number): number => 60_000 + bytes / 10_000;

/** Its own keep-alive socket, so that the small GETs beside it use another. */
const bulkAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function fail(what: string, reject: (e: Error) => void): (e: Error) => void {
  return (e) => reject(new Error(`bench: ${what}: ${e.message}`));
}

/** GET `url`, which answers `bytes` bytes; resolves once the last one is read. `onStart` runs when the answer starts. */
export function httpDownload(url: string, bytes: number, onStart: () => void = () => {}): Promise<HttpBulkResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.get(url, { agent: bulkAgent, timeout: timeoutMs(bytes) }, (res) => {
      onStart();
      let got = 0;
      res.on('data', (chunk: Buffer) => (got += chunk.length));
      res.on('aborted', () => reject(new Error(`bench: GET ${url}: aborted after ${got} bytes, ${Math.round(performance.now() - started)} ms`)));
      res.on('error', fail(`GET ${url}`, reject));
      res.on('end', () => {
        const ms = performance.now() - started;
        if (res.statusCode !== 200 || got !== bytes) reject(new Error(`bench: GET ${url}: ${res.statusCode}, ${got} of ${bytes} bytes`));
        else resolve({ bytes, ms, contentLength: res.headers['content-length'] });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no end within ${timeoutMs(bytes)} ms`)));
    req.on('error', fail(`GET ${url}`, reject));
  });
}

/** POST `bytes` bytes (Content-Length, octet-stream) to `url`, which answers `{"bytes": N}`; resolves once it has. */
export function httpUpload(url: string, bytes: number): Promise<HttpBulkResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const headers = { 'content-type': 'application/octet-stream', 'content-length': bytes };
    const req = http.request(url, { method: 'POST', agent: bulkAgent, headers, timeout: timeoutMs(bytes) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail(`POST ${url}`, reject));
      res.on('end', () => {
        const ms = performance.now() - started;
        const text = Buffer.concat(chunks).toString();
        let counted = -1;
        try {
          counted = (JSON.parse(text) as { bytes: number }).bytes;
        } catch {
          /* reported below */
        }
        if (res.statusCode !== 200 || counted !== bytes) reject(new Error(`bench: POST ${url}: ${res.statusCode} ${text.slice(0, 300)} (sent ${bytes})`));
        else resolve({ bytes, ms, contentLength: res.headers['content-length'] });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs(bytes)} ms`)));
    req.on('error', fail(`POST ${url}`, reject));
    writeBulk(req, bytes).then(() => req.end(), (e: Error) => req.destroy(e));
  });
}

const smallAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function smallGet(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: smallAgent }, (res) => {
      res.on('data', () => {});
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`bench: GET ${url}: ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
}

/**
 * GETs `url` one at a time, on a keep-alive socket of its own, until `stop()` says so
 * (checked before each); resolves each one's time in ms, sorted.
 */
export async function smallLoop(url: string, stop: () => boolean): Promise<number[]> {
  const times: number[] = [];
  while (!stop()) {
    const t = performance.now();
    await smallGet(url);
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b);
}
