import http from 'node:http';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHandler, reply, type EventBody, type EventContext, type PipeClient } from '@restpipe/core';
import { createGateway } from '@restpipe/gateway';
import { TestPki } from './helpers/pki.js';
import { PipeFixture } from './helpers/pipes.js';

/** Never throws: any 5xx in this test is the gateway's own doing. */
class Calm extends EventHandler {
  get_time() {
    return { ok: true };
  }
  post_echo(_ctx: EventContext, body: EventBody) {
    return reply(body.raw, { mimeType: body.mimeType || 'application/octet-stream' });
  }
  put_echo(_ctx: EventContext, body: EventBody) {
    return { size: body.raw.length };
  }
}

const pki = new TestPki();
const pipes = new PipeFixture(pki);
let client: PipeClient;
let gateway: FastifyInstance;
let port: number;

beforeAll(async () => {
  const server = await pipes.server({ handler: new Calm() });
  client = await pipes.connectedClient(server.port, 'fuzz', { maxEventBytes: 64 * 1024 });
  gateway = createGateway({
    status: { role: 'client', name: 'fuzz', connected: () => client.isConnected, peers: () => 1, ready: () => client.isConnected },
    send: (_target, request) => client.request(request),
    maxEventBytes: 64 * 1024,
    timeoutMs: 5_000,
    exposeTracebacks: false,
  });
  await gateway.listen({ host: '127.0.0.1', port: 0 });
  port = (gateway.server.address() as { port: number }).port;
});

afterAll(async () => {
  await gateway?.close();
  await pipes.closeAll();
});

function send(method: string, path: string, headers: Record<string, string>, body: Buffer | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const fragment = fc.oneof(
  fc.constantFrom('server', 'client', 'time', 'echo', '', '..', '.', '%2e', '%2E%2e', '%', '%Z', '%ZZ', '%00', '%2F', '_x', '__proto__', 'constructor', 'toString', 'a%20b', '~', ';x', '%F0%9F%98%80', '%C0%AF'),
  fc.stringMatching(/^[A-Za-z0-9_.~%-]{0,12}$/),
);
const path = fc.array(fragment, { minLength: 0, maxLength: 7 }).map((parts) => `/${parts.join('/')}`);
const serverPath = fc.tuple(fc.array(fragment, { maxLength: 4 }), fc.option(fc.array(fragment, { maxLength: 3 })), fc.option(fc.stringMatching(/^[A-Za-z0-9=&%+._-]{0,20}$/)))
  .map(([noun, args, query]) => `/server/${noun.join('/')}${args ? `//${args.join('/')}` : ''}${query ? `?${query}` : ''}`);
const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,40}$/).map((v) => v.trim());

describe('the gateway under fuzzing', () => {
  it('never answers 5xx itself and never crashes, whatever the path, headers and body', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND'),
        fc.oneof(path, serverPath),
        fc.record({
          'content-type': fc.option(fc.constantFrom('application/json', 'text/plain', 'application/x+json; charset=utf-8', 'application/octet-stream', ';;', 'x'), { nil: undefined }),
          'x-request-id': fc.option(headerValue, { nil: undefined }),
          // A real deadline of a few ms can pass on a busy machine (a 504 that is no gateway fault): none under 1000.
          'x-event-timeout-ms': fc.option(fc.oneof(headerValue.filter((v) => !/^\d+$/.test(v) || Number(v) === 0 || Number(v) >= 1_000), fc.integer({ min: 1_000, max: 10_000 }).map(String), fc.constantFrom('0', '-1', '1e9', '99999999999')), { nil: undefined }),
          authorization: fc.option(headerValue, { nil: undefined }),
        }, { requiredKeys: [] }),
        fc.option(fc.oneof(fc.uint8Array({ maxLength: 2048 }), fc.json().map((j) => new TextEncoder().encode(j))), { nil: undefined }),
        async (method, url, rawHeaders, body) => {
          const headers = Object.fromEntries(Object.entries(rawHeaders).filter(([, v]) => v !== undefined)) as Record<string, string>;
          const payload = body && method !== 'GET' && method !== 'HEAD' ? Buffer.from(body) : undefined;
          const answer = await send(method, url, headers, payload);
          expect(answer.status, `${method} ${url} ${JSON.stringify(headers)} -> ${answer.status} ${answer.body.slice(0, 200)}`).toBeLessThan(500);
          if (answer.status >= 400 && method !== 'HEAD') expect(JSON.parse(answer.body)).toHaveProperty('exception.code');
        },
      ),
      { numRuns: 400 },
    );
    // Still serving, and the pipe still up.
    expect((await send('GET', '/server/time', {}, undefined)).status).toBe(200);
    expect(client.isConnected).toBe(true);
  });
});
