import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { ROOT } from './cli.js';
import { startNode, freePort, type CertDir, type NodeProcess } from './nodes.js';
import { waitFor } from './wait.js';

/** What an HTTP caller saw of a streamed answer: counted as it came, the first 64 KiB kept. */
export interface StreamAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  bytes: number;
  body: Buffer;
  /** The whole body came, with its clean end (chunked terminator, or all of Content-Length). */
  complete: boolean;
  /** How the answer ended when it did not end clean: 'aborted', an error message, or 'left' (the caller left). */
  ended: 'end' | 'aborted' | 'left' | string;
}

export interface HttpCall {
  answer: Promise<StreamAnswer>;
  req: http.ClientRequest;
  /** Body bytes received so far. */
  received(): number;
  /** The caller goes away: the socket is destroyed, whatever is in flight. */
  leave(): void;
}

export interface CallOptions {
  method?: string;
  /** Piped as the request body (chunked unless a content-length header is given). */
  body?: Readable;
  headers?: Record<string, string>;
  /** The caller leaves once this many body bytes came. */
  leaveAfterBytes?: number;
  /** The caller reads nothing for this long once the answer starts, then reads on. */
  pauseMs?: number;
}

/** One HTTP request, its answer read as it comes; it settles however the answer ends, never rejects for an ended answer. */
export function httpCall(url: string, options: CallOptions = {}): HttpCall {
  let bytes = 0;
  let left = false;
  let req!: http.ClientRequest;
  const answer = new Promise<StreamAnswer>((resolve, reject) => {
    req = http.request(url, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const kept: Buffer[] = [];
      let settled = false;
      const done = (ended: string): void => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode!, headers: res.headers, bytes, body: Buffer.concat(kept), complete: res.complete, ended: left ? 'left' : ended });
      };
      res.on('data', (chunk: Buffer) => {
        if (bytes < 1 << 16) kept.push(chunk);
        bytes += chunk.length;
        if (options.leaveAfterBytes !== undefined && bytes >= options.leaveAfterBytes && !left) {
          left = true;
          req.destroy();
        }
      });
      if (options.pauseMs) {
        res.pause();
        setTimeout(() => res.resume(), options.pauseMs);
      }
      res.on('end', () => done('end'));
      res.on('aborted', () => done('aborted'));
      res.on('error', (error) => done(error.message));
      res.on('close', () => done('closed'));
    });
    req.on('error', (error) => {
      if (!left) reject(error);
    });
    if (options.body) {
      options.body.on('error', () => req.destroy());
      options.body.pipe(req);
    } else {
      req.end();
    }
  });
  return {
    answer,
    req,
    received: () => bytes,
    leave: () => {
      left = true;
      req.destroy();
    },
  };
}

/** A request body the test writes by hand: chunks when it says, an end (or none) when it says. */
export class HandBody extends PassThrough {
  written = 0;

  put(bytes: number, fill = 0x61): void {
    this.written += bytes;
    this.write(Buffer.alloc(bytes, fill));
  }
}

/** The lines a node's handler wrote to its STREAM_LOG so far. */
export function logLines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** Waits for a line that starts with `prefix`; returns it. */
export function lineStarting(file: string, prefix: string, timeoutMs = 10_000): Promise<string> {
  return waitFor(() => logLines(file).find((line) => line.startsWith(prefix)), `"${prefix}" in ${file}`, timeoutMs);
}

/** Fails with `what` unless the promise settles within `ms`: a hang, not a slow answer (generous on purpose). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still not settled after ${ms} ms (a hang)`)), ms);
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

export const STREAM_HANDLER = join(ROOT, 'test/fixtures/stream-handler.ts');

export interface StreamPair {
  server: NodeProcess;
  client: NodeProcess;
  pipePort: number;
  /** Where each node's handler writes its STREAM_LOG lines. */
  serverLog: string;
  clientLog: string;
}

export interface StreamPairOptions {
  serverArgs?: string[];
  clientArgs?: string[];
  /** Where rp-client dials; the pipe port itself by default (a fault proxy's port, say). */
  dialPort?: number;
  pipePort?: number;
  serverEnv?: NodeJS.ProcessEnv;
  clientEnv?: NodeJS.ProcessEnv;
}

/** rp-server and rp-client `node-a`, both with the stream fixture handler, each with its own STREAM_LOG. */
export async function startStreamPair(certs: CertDir, options: StreamPairOptions = {}): Promise<StreamPair> {
  const pipePort = options.pipePort ?? (await freePort());
  const serverLog = join(certs.dir, 'server-stream.log');
  const clientLog = join(certs.dir, 'client-stream.log');
  writeFileSync(serverLog, '');
  writeFileSync(clientLog, '');
  const server = await startStreamServer(certs, pipePort, serverLog, options.serverArgs, options.serverEnv);
  let client: NodeProcess;
  try {
    client = await startNode('client', certs, 'node-a', [
      '--server', `127.0.0.1:${options.dialPort ?? pipePort}`, '--server-name', 'localhost', '--handler', STREAM_HANDLER, ...(options.clientArgs ?? []),
    ], { STREAM_LOG: clientLog, ...options.clientEnv });
  } catch (error) {
    server.kill('SIGKILL');
    throw error;
  }
  await waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`)).ok, 'the pipe to be up', 20_000);
  return { server, client, pipePort, serverLog, clientLog };
}

/** rp-server with the stream fixture handler on `pipePort`. */
export function startStreamServer(certs: CertDir, pipePort: number, log: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<NodeProcess> {
  return startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, '--handler', STREAM_HANDLER, ...args], { STREAM_LOG: log, ...env });
}

/** The server's `/_rp/clients` row for `name`. */
export async function clientRow(server: NodeProcess, name = 'node-a'): Promise<{ streams: number; inFlight: number } | undefined> {
  const rows = (await (await fetch(`${server.gateway}/_rp/clients`)).json()) as Array<{ name: string; streams: number; inFlight: number }>;
  return rows.find((row) => row.name === name);
}

/** Waits until the server's connection to `name` holds no stream, either way. */
export async function noStreamsLeft(server: NodeProcess, name = 'node-a'): Promise<void> {
  await waitFor(async () => (await clientRow(server, name))?.streams === 0, `no streams left on the connection to ${name}`);
}
