/**
 * Issue 11, item 5: a peer can only produce the statuses of the SPEC §4 reply
 * table. A hand-driven client answers the server gateway's events with Reply
 * frames no real node would send; whatever is outside the table becomes 502
 * ProtocolError for that one request, and the connection carries on.
 */
import http from 'node:http';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isExceptionStatus, ReplyKind, type EventFrame, type PipeServer, type ReplyFrame } from '@restpipe/core';
import { listenServerGateway } from './helpers/gateway.js';
import { TestPki } from './helpers/pki.js';
import { PipeFixture } from './helpers/pipes.js';
import { RawPeer } from './helpers/raw-peer.js';
import { waitFor } from './helpers/wait.js';

const pki = new TestPki();
const pipes = new PipeFixture(pki);
let server: PipeServer & { port: number };
let gateway: FastifyInstance;
let base: string;
let peer: RawPeer;
let seen = 0;

beforeAll(async () => {
  server = await pipes.server();
  const listening = await listenServerGateway(server);
  gateway = listening.gateway;
  base = `${listening.base}/client/mallory`;
  peer = await RawPeer.connect(server.port, pki.client('mallory'), pki.ca.certPem);
  peer.hello();
  await waitFor(() => server.isConnected('mallory'), 'mallory to register');
});

afterAll(async () => {
  peer?.destroy();
  await gateway?.close();
  await pipes.closeAll();
});

const ENVELOPE = Buffer.from(JSON.stringify({ exception: { class: 'FarError', message: 'far', code: 'RP_ERR_HANDLER', traceback: '' } }));

/** Sends GET /client/mallory/x through the gateway and answers its event with `answer(event)`. */
/**
 * A GET with node:http, not fetch: fetch turns a 407 into a network error by its own rule
 * (no proxy authentication without a window), and 407 is a status a handler may choose.
 */
function get(url: string): Promise<{ status: number; headers: Headers; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === 'string') headers.set(name, value);
        resolve({ status: res.statusCode ?? 0, headers, body });
      });
    }).on('error', reject);
  });
}

async function exchange(answer: (event: EventFrame) => Omit<ReplyFrame, 'id'>): Promise<{ status: number; headers: Headers; body: string }> {
  const pending = get(`${base}/x`);
  const event = await waitFor(() => {
    const events = peer.frames.filter((f) => f.kind === 'event');
    return events.length > seen ? events[seen] : undefined;
  }, 'the event at mallory');
  seen += 1;
  if (event.kind !== 'event') throw new Error('not an event');
  peer.send({ kind: 'reply', reply: { id: event.event.id, ...answer(event.event) } });
  return pending;
}

const exception = (status: number): Omit<ReplyFrame, 'id'> => ({ returnCode: 251, mimeType: 'application/json', data: ENVELOPE, kind: ReplyKind.EXCEPTION, status });
const value = (status: number, mimeType = 'text/plain'): Omit<ReplyFrame, 'id'> => ({ returnCode: 0, mimeType, data: Buffer.from('hi'), kind: ReplyKind.VALUE, status });

function expectProtocolError(response: { status: number; headers: Headers; body: string }): void {
  expect(response.status).toBe(502);
  expect(response.headers.get('x-event-return-code')).toBeNull();
  expect(response.headers.get('location')).toBeNull();
  const { exception: e } = JSON.parse(response.body) as { exception: { class: string; code: string } };
  expect({ class: e.class, code: e.code }).toEqual({ class: 'ProtocolError', code: 'RP_ERR_PROTOCOL' });
}

async function stillConnected(): Promise<void> {
  expect(peer.closed).toBe(false);
  expect(server.isConnected('mallory')).toBe(true);
  expect(peer.goawayReason()).toBeUndefined();
  const ok = await exchange(() => value(200));
  expect(ok.status).toBe(200);
  expect(ok.body).toBe('hi');
}

describe('a Reply outside the reply table is 502 ProtocolError, and only for that request', () => {
  it.each([302, 301, 204, 200, 99, 0x7fff_ffff, 600, 505, 508, 399, 2 ** 32 - 1])('an exception with status %i', async (status) => {
    expectProtocolError(await exchange(() => exception(status)));
    await stillConnected();
  });

  it.each([302, 204, 99, 404, 500, 201])('a value with status %i', async (status) => {
    expectProtocolError(await exchange(() => value(status)));
    await stillConnected();
  });

  it.each([
    ['CR LF', 'text/plain\r\nx-evil: 1'],
    ['a character above U+00FF', 'text/\u0100'],
    ['2000 characters', `text/${'x'.repeat(2000)}`],
  ])('a value whose media type has %s', async (_what, mimeType) => {
    expectProtocolError(await exchange(() => value(200, mimeType)));
    await stillConnected();
  });

  it('a reply of an unknown kind', async () => {
    expectProtocolError(await exchange(() => ({ ...value(200), kind: 7 as ReplyKind })));
    await stillConnected();
  });
});

describe('a Reply inside the table goes through as sent', () => {
  it.each([400, 401, 403, 404, 407, 413, 418, 429, 499, 500, 502, 503, 504])('an exception with status %i', async (status) => {
    const response = await exchange(() => exception(status));
    expect(response.status).toBe(status);
    expect(response.headers.get('x-event-return-code')).toBe('251');
    expect(JSON.parse(response.body)).toEqual(JSON.parse(ENVELOPE.toString()));
  });

  it('an exception with no status is 500; a value with none is 200', async () => {
    expect((await exchange(() => exception(0))).status).toBe(500);
    expect((await exchange(() => value(0))).status).toBe(200);
  });
});

describe('any status a peer sends (property)', () => {
  it('answers that status when the table allows it, else 502 ProtocolError', async () => {
    const statuses = fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 100, max: 599 }));
    await fc.assert(
      fc.asyncProperty(statuses, fc.boolean(), async (status, isException) => {
        const response = await exchange(() => (isException ? exception(status) : value(status)));
        const allowed = isException ? status === 0 || isExceptionStatus(status) : status === 0 || status === 200;
        if (!allowed) expectProtocolError(response);
        else expect(response.status).toBe(isException ? status || 500 : 200);
      }),
      { numRuns: 100 },
    );
    await stillConnected();
  });
});

describe('the gateway checks the numbers and strings it would forward', () => {
  const eventsAtMallory = (): number => peer.frames.filter((f) => f.kind === 'event').length;

  it.each(['86400001', '2147483648', '4294967296', '0', '-1', '1.5', '1e3'])('X-Event-Timeout-Ms %s is 400 and sends nothing', async (header) => {
    const before = eventsAtMallory();
    const response = await fetch(`${base}/x`, { headers: { 'x-event-timeout-ms': header } });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { exception: { code: string } }).exception.code).toBe('RP_ERR_INVALID_REQUEST');
    expect(eventsAtMallory()).toBe(before);
  });

  it('a Content-Type over 1024 characters is 400 and sends nothing', async () => {
    const before = eventsAtMallory();
    const response = await fetch(`${base}/x`, { method: 'POST', body: 'hi', headers: { 'content-type': `text/${'x'.repeat(1100)}` } });
    expect(response.status).toBe(400);
    expect(eventsAtMallory()).toBe(before);
  });
});
