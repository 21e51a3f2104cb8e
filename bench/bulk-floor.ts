/**
 * The floors of the stream bench (bench/stream.ts), run inside bench/child.ts:
 *
 * - `bulkRoutes`: `GET /server/bulk//N` and `POST /server/sink` on the bare Fastify, the
 *   plain HTTP server that answers directly and behind `ssh -R`: the same bytes as
 *   bench/stream-handler.ts, with Content-Length, and an upload read to its end.
 * - `tlsBulkServer`: a raw node:tls mutual-TLS socket, restpipe's TLS settings, that on a
 *   9-byte request (`G` or `P`, then N as a big-endian u64) sends N bytes and ends, or
 *   reads N bytes and answers their count as a u64. `tlsBulk` is its client.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import tls from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { AEAD_CIPHERS } from '@restpipe/core';
import { bulkChunks, writeBulk } from './bulk-source.js';

const HEADER_BYTES = 9;

/** A plugin of its own: the upload route takes its body as a stream, not as one Buffer. */
export async function bulkRoutes(app: FastifyInstance): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request: unknown, payload: IncomingMessage, done: (error: Error | null, body?: unknown) => void) => done(null, payload));
  app.get<{ Params: { n: string } }>('/server/bulk//:n', async (request, replyTo) => {
    const bytes = Number(request.params.n);
    return replyTo.type('application/octet-stream').header('content-length', bytes).send(Readable.from(bulkChunks(bytes), { objectMode: false }));
  });
  app.post('/server/sink', async (request) => {
    let bytes = 0;
    for await (const chunk of request.body as IncomingMessage) bytes += (chunk as Buffer).length;
    return { bytes };
  });
}

export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

/** The TLS settings restpipe's transport uses: TLS 1.3 at least, its AEAD cipher list. */
const SETTINGS = { minVersion: 'TLSv1.3', ciphers: AEAD_CIPHERS } as const;

export function tlsBulkServer(files: TlsFiles, port: number): Promise<void> {
  const server = tls.createServer({ ...files, ...SETTINGS, requestCert: true, rejectUnauthorized: true }, (socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => {});
    let header = Buffer.alloc(0);
    let left = -1;
    const onData = (chunk: Buffer): void => {
      if (left < 0) {
        header = Buffer.concat([header, chunk]);
        if (header.length < HEADER_BYTES) return;
        const op = String.fromCharCode(header[0]!);
        left = Number(header.readBigUInt64BE(1));
        chunk = header.subarray(HEADER_BYTES);
        if (op === 'G') {
          socket.off('data', onData);
          void writeBulk(socket, left).then(() => socket.end(), () => socket.destroy());
          return;
        }
      }
      left -= chunk.length;
      if (left <= 0) socket.end(u64(Number(header.readBigUInt64BE(1)) - left));
    };
    socket.on('data', onData);
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
}

function u64(n: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(n));
  return out;
}

export interface TlsBulkResult {
  bytes: number;
  ms: number;
  cipher: string;
}

/**
 * One bulk transfer over a fresh raw TLS connection: `get` reads `bytes` from the server,
 * `post` sends them. Timed from the request (after the handshake) to the last byte, or
 * for `post` to the server's count.
 */
export function tlsBulk(files: TlsFiles, port: number, op: 'get' | 'post', bytes: number): Promise<TlsBulkResult> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...files, ...SETTINGS });
    socket.setNoDelay(true);
    let started = 0;
    let got = 0;
    let answer = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('secureConnect', () => {
      started = performance.now();
      socket.write(Buffer.concat([Buffer.from(op === 'get' ? 'G' : 'P'), u64(bytes)]));
      if (op === 'post') writeBulk(socket, bytes).catch(reject);
    });
    socket.on('data', (chunk: Buffer) => {
      if (op === 'get') got += chunk.length;
      else answer = Buffer.concat([answer, chunk]);
    });
    socket.on('end', () => {
      const ms = performance.now() - started;
      const moved = op === 'get' ? got : answer.length === 8 ? Number(answer.readBigUInt64BE(0)) : -1;
      const cipher = socket.getCipher()?.standardName ?? '';
      socket.destroy();
      if (moved !== bytes) reject(new Error(`bench: raw TLS ${op} moved ${moved} of ${bytes} bytes`));
      else resolve({ bytes, ms, cipher });
    });
  });
}
