import { createHash } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { CertDir, startPair, type NodePair } from './helpers/nodes.js';
import { pattern, patternHash } from './fixtures/stream-handler.js';
import { join } from 'node:path';

const MiB = 1024 * 1024;
let certs: CertDir;
let pair: NodePair;

beforeAll(async () => {
  certs = new CertDir(['node-a']);
  const handler = ['--handler', join(ROOT, 'test/fixtures/stream-handler.ts')];
  pair = await startPair(certs, handler, handler);
}, 30_000);

afterAll(async () => {
  await pair?.client.stop();
  await pair?.server.stop();
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  bytes: number;
  sha256: string;
  body: Buffer;
  complete: boolean;
}

/** One HTTP request with a streamed (chunked) body or none; the answer hashed as it comes. */
function send(url: string, method: string, body?: Readable, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const hash = createHash('sha256');
      const kept: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        if (bytes <= 1 << 16) kept.push(chunk);
      });
      let answered = false;
      const done = (): void => {
        if (answered) return;
        answered = true;
        resolve({ status: res.statusCode!, headers: res.headers, bytes, sha256: hash.digest('hex'), body: Buffer.concat(kept), complete: res.complete });
      };
      res.on('end', done);
      res.on('aborted', done);
      res.on('error', done);
    });
    req.on('error', reject);
    if (body) body.pipe(req);
    else req.end();
  });
}

describe('streams through the gateways (SPEC §12)', () => {
  it('uploads a chunked body of 64 MiB and downloads 64 MiB with Content-Length', async () => {
    const up = await send(`${pair.client.gateway}/server/sink`, 'POST', Readable.from(pattern(64 * MiB, 7)), { 'content-type': 'application/octet-stream' });
    expect(up.status).toBe(200);
    expect(JSON.parse(up.body.toString())).toMatchObject({ bytes: 64 * MiB, sha256: patternHash(64 * MiB, 7), streamed: true });

    const down = await send(`${pair.client.gateway}/server/bytes//${64 * MiB}/3`, 'GET');
    expect(down.status).toBe(200);
    expect(down.headers['content-length']).toBe(String(64 * MiB));
    expect(down.headers['content-type']).toBe('application/x-pattern');
    expect(down).toMatchObject({ bytes: 64 * MiB, sha256: patternHash(64 * MiB, 3), complete: true });
  }, 60_000);

  it('echoes a chunked body back chunked', async () => {
    const echo = await send(`${pair.client.gateway}/server/echo`, 'POST', Readable.from(pattern(8 * MiB, 9)), { 'content-type': 'application/x-thing' });
    expect(echo.status).toBe(200);
    expect(echo.headers['transfer-encoding']).toBe('chunked');
    expect(echo.headers['content-type']).toBe('application/x-thing');
    expect(echo).toMatchObject({ bytes: 8 * MiB, sha256: patternHash(8 * MiB, 9), complete: true });
  }, 60_000);

  it('ends the response aborted, not clean, when the far source fails', async () => {
    const broken = await send(`${pair.client.gateway}/server/broken//${4 * MiB}`, 'GET');
    expect(broken.status).toBe(200);
    expect(broken.complete).toBe(false);
    expect(broken.bytes).toBeLessThanOrEqual(4 * MiB);
    // The pipe and the gateway serve on.
    const time = await fetch(`${pair.client.gateway}/server/time`);
    expect(time.status).toBe(200);
  }, 60_000);
});
