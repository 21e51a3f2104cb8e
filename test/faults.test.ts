import { afterEach, describe, expect, it } from 'vitest';
import { EventHandler, reply, type EventBody, type EventContext, type PipeClient, type PipeServer } from '@restpipe/core';
import { FaultProxy } from './helpers/fault-proxy.js';
import { usePipeFixture } from './helpers/pipes.js';
import { nextEvent, settle, waitFor } from './helpers/wait.js';

const HEARTBEAT_MS = 200;

class Echo extends EventHandler {
  post_echo(_ctx: EventContext, body: EventBody) {
    return reply(body.raw, { mimeType: body.mimeType });
  }
  get_slow(ctx: EventContext): Promise<void> {
    return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
  }
}

const suite = usePipeFixture();
let proxy: FaultProxy | undefined;

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

async function throughProxy(): Promise<{ server: PipeServer; client: PipeClient; proxy: FaultProxy }> {
  const pipes = suite.fixture();
  const server = await pipes.server({ handler: new Echo(), heartbeatMs: HEARTBEAT_MS });
  proxy = await new FaultProxy(server.port).start();
  const client = await pipes.connectedClient(proxy.port, 'node-a', { handler: new Echo(), heartbeatMs: HEARTBEAT_MS });
  return { server, client, proxy };
}

describe('faults between the nodes (heartbeat 200 ms)', () => {
  it('a half-open link is detected on both sides within 3 heartbeats, and recovers once healed', async () => {
    const { server, client, proxy } = await throughProxy();
    const pending = settle(client.request({ noun: 'slow', timeoutMs: 30_000 }));
    const serverSaw = nextEvent<[unknown, string]>(server, 'disconnect');
    const clientSaw = nextEvent<[unknown, string]>(client, 'disconnect');
    const started = Date.now();
    proxy.blackholed = true;
    const [[, serverReason], [, clientReason]] = await Promise.all([serverSaw, clientSaw]);
    const detectedMs = Date.now() - started;
    expect(serverReason).toBe('heartbeat_timeout');
    expect(clientReason).toBe('heartbeat_timeout');
    // Dead after 3 silent intervals (600 ms), noticed on the next tick; generous for a busy machine.
    expect(detectedMs).toBeLessThan(3 * HEARTBEAT_MS + 1_500);
    expect(((await pending) as { error: { code: string } }).error.code).toBe('RP_ERR_PEER_DISCONNECTED');
    proxy.blackholed = false;
    await waitFor(() => client.isConnected && server.isConnected('node-a'), 'recovery after healing');
    expect((await client.request({ verb: 'post', noun: 'echo', body: 'back' })).data).toBe('back');
  });

  it('slicing into single bytes never corrupts an event', async () => {
    const { client, proxy } = await throughProxy();
    proxy.sliced = true;
    const bodies = Array.from({ length: 40 }, (_, i) => Buffer.from(Array.from({ length: 200 + i * 37 }, (_, j) => (i * 13 + j * 7) & 0xff)));
    const replies = await Promise.all(bodies.map((body) => client.request({ verb: 'post', noun: 'echo', body })));
    replies.forEach((r, i) => expect(Buffer.compare(r.raw, bodies[i]!)).toBe(0));
  });

  it('100 ms of added latency each way causes no heartbeat false positives', async () => {
    const { server, client, proxy } = await throughProxy();
    proxy.latencyMs = 100;
    let drops = 0;
    client.on('disconnect', () => (drops += 1));
    server.on('disconnect', () => (drops += 1));
    const deadline = Date.now() + 10 * HEARTBEAT_MS;
    let answered = 0;
    while (Date.now() < deadline) {
      expect((await client.request({ verb: 'post', noun: 'echo', body: 'x' })).data).toBe('x');
      answered += 1;
    }
    // Idle for a few intervals too: only Pings cross the slow link.
    await new Promise((r) => setTimeout(r, 5 * HEARTBEAT_MS));
    expect(drops).toBe(0);
    expect(answered).toBeGreaterThan(3);
    expect(client.isConnected).toBe(true);
    expect(server.clients()[0]!.rttMs).toBeGreaterThanOrEqual(190);
  });

  it('a TCP reset fails in-flight requests at once, and the client reconnects', async () => {
    const { client, proxy } = await throughProxy();
    const pending = settle(client.request({ noun: 'slow', timeoutMs: 30_000 }));
    await new Promise((r) => setTimeout(r, 50));
    const before = proxy.connectionsAccepted;
    proxy.reset();
    expect(((await pending) as { error: { code: string } }).error.code).toBe('RP_ERR_PEER_DISCONNECTED');
    await waitFor(() => client.isConnected && proxy.connectionsAccepted > before, 'reconnection');
    expect((await client.request({ verb: 'post', noun: 'echo', body: 'ok' })).data).toBe('ok');
  });

  it('a link cut mid-frame closes cleanly and the client reconnects', async () => {
    const { client, proxy } = await throughProxy();
    proxy.cutAfter(20_000);
    const big = Buffer.alloc(50_000, 7);
    const cut = await settle(client.request({ verb: 'post', noun: 'echo', body: big }));
    expect((cut as { error: { code: string } }).error.code).toBe('RP_ERR_PEER_DISCONNECTED');
    await waitFor(() => client.isConnected, 'reconnection');
    expect(Buffer.compare((await client.request({ verb: 'post', noun: 'echo', body: big })).raw, big)).toBe(0);
  });
});
