/**
 * One child process of the benchmark, in the role named by argv[2]. Each prints
 * one JSON line `{"ready": ...}` when up, and answers `rss` on stdin with its RSS,
 * `cpu` with the CPU time it has used, and `exit` by exiting cleanly.
 *
 *   bare-fastify PORT            the floor for the full path: Fastify answering directly
 *   tls-floor PORT CERTDIR       raw node:tls mutual-TLS echo of length-prefixed frames
 *   pipe-server PORT CERTDIR     a PipeServer with an echo handler
 *   idle-clients PORT CERTDIR N  N PipeClients that connect and stay idle
 *   raw-idle PORT CERTDIR N [echo]  N bare mutual-TLS sockets that connect (and echo one frame) and stay idle
 *   active-clients PORT CERTDIR N SECONDS   N PipeClients, all sending at once for SECONDS
 *   nats-responder NATSPORT CERTDIR   answers rp.time and rp.echo over NATS (mutual TLS)
 *   nats-gateway PORT CERTDIR NATSPORT   Fastify turning /server/time and /server/echo into NATS requests
 *   tls-bulk PORT CERTDIR        the stream bench's floor: a mutual-TLS socket that sends or swallows N bytes (bulk-floor.ts)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import tls from 'node:tls';
import Fastify from 'fastify';
import { connect } from 'nats';
import { EventHandler, FrameDecoder, PipeClient, PipeServer, reply, type EventBody, type EventContext } from '@restpipe/core';
import { bulkRoutes, tlsBulkServer } from './bulk-floor.js';

const [role, portText, certDir, countText] = process.argv.slice(2);
const port = Number(portText);
const read = (name: string): string => readFileSync(join(certDir ?? '.', name), 'utf8');
const say = (message: object): void => void process.stdout.write(`${JSON.stringify(message)}\n`);

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'rss') {
    globalThis.gc?.();
    say({ rss: process.memoryUsage().rss });
  }
  if (line === 'cpu') {
    const { user, system } = process.cpuUsage();
    say({ cpuMs: (user + system) / 1000 });
  }
  // A clean exit, so that `--cpu-prof` in NODE_OPTIONS writes its profile.
  if (line === 'exit') process.exit(0);
});

class Echo extends EventHandler {
  get_time(_ctx: EventContext) {
    return { time_from_server: Date.now() / 1000 };
  }
  post_echo(_ctx: EventContext, body: EventBody) {
    return reply(body.raw, { mimeType: body.mimeType || 'application/octet-stream' });
  }
}

async function bareFastify(): Promise<void> {
  const app = Fastify({ bodyLimit: 8 * 1024 * 1024 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.get('/server/time', async () => ({ time_from_server: Date.now() / 1000 }));
  app.post('/server/echo', async (request, replyTo) => replyTo.type(request.headers['content-type'] ?? 'application/octet-stream').send(request.body));
  await app.register(bulkRoutes);
  await app.listen({ host: '127.0.0.1', port });
  say({ ready: role });
}

function serverTls() {
  return { cert: read('server.crt.pem'), key: read('server.key.pem'), ca: read('ca.crt.pem') };
}

async function tlsFloor(): Promise<void> {
  const server = tls.createServer({ ...serverTls(), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, (socket) => {
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(16 * 1024 * 1024);
    socket.on('data', (chunk: Buffer) => {
      socket.cork();
      for (const body of decoder.push(chunk)) {
        const prefix = Buffer.allocUnsafe(4);
        prefix.writeUInt32BE(body.length);
        socket.write(prefix);
        socket.write(body);
      }
      socket.uncork();
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  say({ ready: role });
}

async function tlsBulk(): Promise<void> {
  await tlsBulkServer(serverTls(), port);
  say({ ready: role });
}

async function pipeServer(): Promise<void> {
  const ticketKeys = process.env['BENCH_TICKET_KEYS'] ? Buffer.from(process.env['BENCH_TICKET_KEYS'], 'hex') : undefined;
  const server = new PipeServer({ tls: serverTls(), host: '127.0.0.1', port, handler: new Echo(), ticketKeys });
  await server.listen();
  setInterval(() => say({ connections: server.connectionCount }), 50).unref();
  say({ ready: role });
}

function clientTls(i: number) {
  return { cert: read(`c${i}.crt.pem`), key: read('client.key.pem'), ca: read('ca.crt.pem') };
}

async function idleClients(): Promise<void> {
  const count = Number(countText);
  let resumed = 0;
  const clients = Array.from({ length: count }, (_, i) => {
    const client = new PipeClient({ tls: clientTls(i), host: '127.0.0.1', port, serverName: 'localhost' });
    client.on('connect', () => {
      if (client.connection?.resumed) resumed += 1;
    });
    return client.start();
  });
  setInterval(() => say({ connected: clients.filter((c) => c.isConnected).length, resumed }), 50).unref();
  say({ ready: role });
}

async function rawIdle(): Promise<void> {
  const count = Number(countText);
  // With `echo`, each socket sends one small frame and reads its echo, then idles:
  // a connection that has carried data, as every restpipe connection has (its Hello).
  const echo = process.argv[6] === 'echo';
  const frame = Buffer.from([0, 0, 0, 4, 1, 2, 3, 4]);
  let connected = 0;
  for (let i = 0; i < count; i++) {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...clientTls(i) }, () => {
      if (!echo) connected += 1;
      else socket.write(frame);
    });
    if (echo) socket.once('data', () => (connected += 1));
    socket.on('error', () => {});
  }
  setInterval(() => say({ connected }), 50).unref();
  say({ ready: role });
}

async function activeClients(): Promise<void> {
  const count = Number(countText);
  const seconds = Number(process.argv[6] ?? 5);
  const clients = Array.from({ length: count }, (_, i) =>
    new PipeClient({ tls: clientTls(i), host: '127.0.0.1', port, serverName: 'localhost' }).start());
  await Promise.all(clients.map((c) => c.connected(30_000)));
  say({ ready: role });
  const body = Buffer.alloc(16);
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(clients.map(async (c) => {
    while (performance.now() < end) {
      await c.request({ verb: 'post', noun: 'echo', body });
      done += 1;
    }
  }));
  say({ throughput: done / ((performance.now() - started) / 1000) });
}

function natsConnect(natsPort: number) {
  return connect({
    servers: `tls://127.0.0.1:${natsPort}`,
    tls: { cert: read('client.crt.pem'), key: read('client.key.pem'), ca: read('ca.crt.pem') },
    maxReconnectAttempts: -1,
  });
}

async function natsResponder(): Promise<void> {
  const nc = await natsConnect(port);
  const encoder = new TextEncoder();
  nc.subscribe('rp.time', { callback: (_err, msg) => msg.respond(encoder.encode(JSON.stringify({ time_from_server: Date.now() / 1000 }))) });
  nc.subscribe('rp.echo', { callback: (_err, msg) => msg.respond(msg.data) });
  await nc.flush();
  say({ ready: role });
}

async function natsGateway(): Promise<void> {
  const nc = await natsConnect(Number(countText));
  const app = Fastify({ bodyLimit: 8 * 1024 * 1024 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.get('/server/time', async (_request, replyTo) => {
    const msg = await nc.request('rp.time', new Uint8Array(0), { timeout: 30_000 });
    return replyTo.type('application/json').send(Buffer.from(msg.data));
  });
  app.post('/server/echo', async (request, replyTo) => {
    const msg = await nc.request('rp.echo', request.body as Buffer, { timeout: 30_000 });
    return replyTo.type(request.headers['content-type'] ?? 'application/octet-stream').send(Buffer.from(msg.data));
  });
  await app.listen({ host: '127.0.0.1', port });
  say({ ready: role });
}

const roles: Record<string, () => Promise<void>> = {
  'nats-responder': natsResponder,
  'nats-gateway': natsGateway,
  'active-clients': activeClients,
  'bare-fastify': bareFastify,
  'tls-floor': tlsFloor,
  'tls-bulk': tlsBulk,
  'pipe-server': pipeServer,
  'idle-clients': idleClients,
  'raw-idle': rawIdle,
};
const run = roles[role ?? ''];
if (!run) throw new Error(`unknown role ${role}`);
await run();
