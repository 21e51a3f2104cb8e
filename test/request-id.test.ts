/**
 * Request ids from outside, an X-Request-Id header or a peer's Event.request_id,
 * are logged, echoed and handed to handlers only when sane (1 to 128 printable
 * ASCII); anything else is replaced whole by a fresh id. Real rp-server and
 * rp-client processes; a hand-driven peer for what a real client never sends.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION, type Frame } from '@restpipe/core';
import { CertDir, startPair, type NodeProcess } from './helpers/nodes.js';
import { RawPeer } from './helpers/raw-peer.js';
import { waitFor } from './helpers/wait.js';

let certs: CertDir;
let server: NodeProcess;
let client: NodeProcess;
let pipePort: number;

beforeAll(async () => {
  certs = new CertDir(['node-a', 'raw']);
  ({ server, client, pipePort } = await startPair(certs));
});

afterAll(async () => {
  await Promise.all([client?.stop(), server?.stop()]);
});

const longestLine = (node: NodeProcess): number => Math.max(...node.output().split('\n').map((line) => line.length));

/** GET through node:http, which sends a header of any length fetch would refuse to build. */
function get(url: string, headers: Record<string, string>): Promise<{ status: number; requestId: string; body: { requestId?: string } }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, requestId: String(res.headers['x-request-id']), body: JSON.parse(text) as { requestId?: string } }));
    }).on('error', reject);
  });
}

describe('X-Request-Id at the gateway', () => {
  it('replaces a 12 KiB X-Request-Id by a fresh UUID, echoed, passed on, and never logged', async () => {
    const huge = 'h'.repeat(12 * 1024);
    const answer = await get(`${client.gateway}/server/whoami`, { 'x-request-id': huge });
    expect(answer.status).toBe(200);
    expect(answer.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.body.requestId).toBe(answer.requestId);
    await new Promise((r) => setTimeout(r, 100)); // log lines are batched
    expect(client.output()).not.toContain('hhhhhhhhhhhhhhhh');
    expect(server.output()).not.toContain('hhhhhhhhhhhhhhhh');
  });

  it.each([
    ['128 characters', true, 'k'.repeat(128)],
    ['129 characters', false, 'k'.repeat(129)],
    ['printable ASCII with spaces and quotes', true, 'trace "a" <b> ~'],
  ] as const)('with %s: kept is %s', async (_what, kept, id) => {
    const answer = await get(`${client.gateway}/server/whoami`, { 'x-request-id': id });
    expect(answer.requestId === id).toBe(kept);
    expect(answer.body.requestId).toBe(answer.requestId);
  });
});

describe("a peer's Event.request_id", () => {
  it('replaces a 1 MiB request id before it is logged or handed to the handler', async () => {
    const identity = { certPem: readFileSync(certs.path('raw', 'crt'), 'utf8'), keyPem: readFileSync(certs.path('raw', 'key'), 'utf8') };
    const peer = await RawPeer.connect(pipePort, identity as never, certs.ca.certPem);
    peer.send({ kind: 'hello', hello: { protocolVersion: PROTOCOL_VERSION, software: 'raw', heartbeatMs: 60_000, maxEventBytes: 4 << 20, maxInFlight: 8, maxConcurrency: 8 } });
    await waitFor(() => peer.frames.some((f) => f.kind === 'helloAck'), 'HelloAck');
    const requestId = 'r'.repeat(1 << 20);
    peer.send({ kind: 'event', event: { id: 1, verb: 'get', noun: ['whoami'], args: [], query: [], mimeType: '', data: Buffer.alloc(0), timeoutMs: 5000, requestId } });
    const reply = await waitFor(() => peer.frames.find((f): f is Extract<Frame, { kind: 'reply' }> => f.kind === 'reply'), 'the reply');
    const seen = (JSON.parse(Buffer.from(reply.reply.data).toString()) as { requestId: string }).requestId;
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThanOrEqual(128);
    await new Promise((r) => setTimeout(r, 100));
    expect(server.output()).not.toContain('rrrrrrrrrrrrrrrr');
    expect(longestLine(server)).toBeLessThan(4096);
    peer.destroy();
  });
});
