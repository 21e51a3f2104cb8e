import { afterAll, describe, expect, it } from 'vitest';
import { PipeClient, type PipeServer } from '@restpipe/core';
import { TestPki } from './helpers/pki.js';
import { PipeFixture } from './helpers/pipes.js';
import { waitFor } from './helpers/wait.js';

const CLIENTS = 200;

describe('reconnect storm', () => {
  const pki = new TestPki();
  const pipes = new PipeFixture(pki);
  const shared = pki.client('storm-0');

  afterAll(() => pipes.closeAll());

  it(`${CLIENTS} clients all come back after a server restart, spread out by jitter`, { timeout: 90_000 }, async () => {
    const first = await pipes.server({});
    const port = first.port;
    const clients: PipeClient[] = [];
    const attempts: Array<{ client: number; attempt: number; delayMs: number }> = [];
    for (let i = 0; i < CLIENTS; i++) {
      // One key, many names: the storm is about handshakes, not key generation.
      const identity = pki.issue('client', { name: `storm-${i}`, keyPem: shared.keyPem });
      const client = pipes.client(port, `storm-${i}`, { tls: pki.tls(identity), reconnect: { minMs: 250, maxMs: 30_000 } });
      client.on('reconnecting', (info: { attempt: number; delayMs: number }) => attempts.push({ client: i, ...info }));
      clients.push(client);
    }
    await waitFor(() => first.connectionCount === CLIENTS, `${CLIENTS} connections`, 60_000);

    await first.close();
    await waitFor(() => clients.every((c) => !c.isConnected), 'every client to notice');
    await new Promise((r) => setTimeout(r, 1_000)); // the server is away for a while
    const second: PipeServer = await pipes.server({ port });
    const arrivals: number[] = [];
    second.on('connect', () => arrivals.push(performance.now()));
    await waitFor(() => second.connectionCount === CLIENTS, `all ${CLIENTS} to reconnect`, 30_000);
    // The server counts a client at HelloAck, a moment before the client reads it.
    await waitFor(() => clients.every((c) => c.isConnected), 'every client to see its HelloAck');

    // The recorded retry delays, not wall time: p-retry's jitter (x1 to x2) spreads
    // the second attempts over 250-500 ms instead of stacking them on one instant.
    const seconds = attempts.filter((a) => a.attempt === 2).map((a) => a.delayMs);
    expect(seconds.length).toBeGreaterThan(CLIENTS / 2);
    const spread = Math.max(...seconds) - Math.min(...seconds);
    const mean = seconds.reduce((a, b) => a + b, 0) / seconds.length;
    const sd = Math.sqrt(seconds.reduce((a, b) => a + (b - mean) ** 2, 0) / seconds.length);
    expect(Math.min(...seconds)).toBeGreaterThanOrEqual(240);
    expect(spread).toBeGreaterThan(150);
    expect(sd).toBeGreaterThan(40);
    // And arrivals at the new server are not one burst: they land in many distinct 50 ms slots.
    const slots = new Set(arrivals.map((t) => Math.floor(t / 50)));
    expect(slots.size).toBeGreaterThan(4);
    console.log(`storm: ${seconds.length} second attempts, delay ${Math.min(...seconds).toFixed(0)}-${Math.max(...seconds).toFixed(0)} ms (sd ${sd.toFixed(0)}), arrivals over ${slots.size} slots of 50 ms`);
  });
});
