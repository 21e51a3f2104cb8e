import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsServerAvailable } from './helpers/nats-cluster.js';
import { startRpCluster, type RpCluster } from './helpers/rp-cluster.js';
import { holdArgs } from './holds-helpers.js';
import { StatsdCollector } from './helpers/statsd.js';
import { waitFor } from './helpers/wait.js';

/** SPEC §11: any node reaches any client, with §4's replies; 404 never seen, 503 seen but gone. */
describe.runIf(natsServerAvailable())('a cluster of three rp-servers on three nats-servers', () => {
  let cluster: RpCluster;
  let statsd: StatsdCollector;

  beforeAll(async () => {
    statsd = await new StatsdCollector().start();
    cluster = await startRpCluster({ clients: ['node-a', 'node-b', 'node.dotted', 'gone-one', 'odd-one'], serverArgs: ['--statsd', `127.0.0.1:${statsd.port}`] });
    await cluster.startClient('node-a', 0);
    await cluster.startClient('node-b', 1);
    await cluster.startClient('node.dotted', 2);
    for (const name of ['node-a', 'node-b', 'node.dotted']) await cluster.waitForClient(name);
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
    statsd?.close();
  });

  it('reaches a client from every node, the same reply as from its own node', async () => {
    for (let via = 0; via < 3; via += 1) {
      const response = await fetch(`${cluster.server(via).gateway}/client/node-a/cat//hello%20/world`);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-event-return-code')).toBe('0');
      expect(await response.json()).toEqual({ result_from_client: 'hello world' });
    }
  });

  it('routes a name with a dot in it', async () => {
    const response = await fetch(`${cluster.server(0).gateway}/client/node.dotted/time`);
    expect(response.status).toBe(200);
    expect(Object.keys(await response.json())).toEqual(['time_from_client']);
  });

  it('keeps failure statuses, return codes and envelopes across nodes', async () => {
    const missing = await fetch(`${cluster.server(2).gateway}/client/node-a/nothing_here`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-event-return-code')).toBe('255');
    expect(((await missing.json()) as { exception: { code: string } }).exception.code).toBe('RP_ERR_UNKNOWN_HANDLER');
    const refused = await fetch(`${cluster.server(2).gateway}/client/node-a/secret`);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('x-event-return-code')).toBe('252');
  });

  it('carries bodies both ways, binary included', async () => {
    const body = Buffer.alloc(64 * 1024, 7);
    const response = await fetch(`${cluster.server(1).gateway}/client/node-a/echo`, {
      method: 'POST', body, headers: { 'content-type': 'application/octet-stream' },
    });
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer()).equals(body)).toBe(true);
  });

  it('answers 404 for a name no node has seen, after --connect-wait-ms, never 504', async () => {
    const response = await fetch(`${cluster.server(1).gateway}/client/never-seen/time`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { exception: { code: string } }).exception.code).toBe('RP_ERR_UNKNOWN_CLIENT');
  });

  it('answers 503 on every node for a name seen on one of them but gone now', async () => {
    const client = await cluster.startClient('gone-one', 2);
    await cluster.waitForClient('gone-one');
    await client.stop();
    for (let via = 0; via < 3; via += 1) {
      const response = await fetch(`${cluster.server(via).gateway}/client/gone-one/time`);
      expect(response.status).toBe(503);
      expect(((await response.json()) as { exception: { code: string } }).exception.code).toBe('RP_ERR_PEER_UNAVAILABLE');
    }
  });

  it('lists every node\'s clients, each with its node', async () => {
    const list = (await (await fetch(`${cluster.server(0).gateway}/_rp/clients`)).json()) as Array<{ name: string; node: string }>;
    const nodes = Object.fromEntries(list.map((c) => [c.name, c.node]));
    expect(nodes).toMatchObject({ 'node-a': 'n0', 'node-b': 'n1', 'node.dotted': 'n2' });
  });

  it('shows the nodes and the NATS state at /_rp/cluster and in /_rp/health', async () => {
    const view = (await (await fetch(`${cluster.server(1).gateway}/_rp/cluster`)).json()) as { node: string; nats: string; nodes: Array<{ node: string; clients: number; since: string }> };
    expect(view.node).toBe('n1');
    expect(view.nats).toBe('connected');
    expect(view.nodes.map((n) => n.node).sort()).toEqual(['n0', 'n1', 'n2']);
    expect(view.nodes.find((n) => n.node === 'n0')?.clients).toBe(1);
    expect(Number.isNaN(Date.parse(view.nodes[0]!.since))).toBe(false);
    const health = (await (await fetch(`${cluster.server(1).gateway}/_rp/health`)).json()) as { cluster: { nats: string; nodes: number } };
    expect(health.cluster).toEqual({ nats: 'connected', nodes: 3 });
  });

  it('broadcasts to every client of the cluster, one result each', async () => {
    const response = await fetch(`${cluster.server(0).gateway}/client/*/cat//x`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { count: number; results: Record<string, { status: number; returnCode: number; mimeType: string; body: unknown }> };
    expect(body.count).toBe(3);
    expect(Object.keys(body.results).sort()).toEqual(['node-a', 'node-b', 'node.dotted']);
    expect(body.results['node-b']).toEqual({ status: 200, returnCode: 0, mimeType: 'application/json', body: { result_from_client: 'x' } });
  });

  it('counts forwarded, received and no-responders requests, in StatsD (real UDP) and /_rp/metrics', async () => {
    expect((await fetch(`${cluster.server(1).gateway}/client/node-a/time`)).status).toBe(200);
    expect((await fetch(`${cluster.server(1).gateway}/client/never-there/time`)).status).toBe(404);
    const expected = ['restpipe.server.cluster.forwarded|c', 'restpipe.server.cluster.received|c', 'restpipe.server.cluster.noresponders|c'];
    await waitFor(() => expected.every((kind) => statsd.kinds().has(kind)), 'the cluster counters in StatsD', 15_000);
    const origin = await (await fetch(`${cluster.server(1).gateway}/_rp/metrics`)).text();
    const holder = await (await fetch(`${cluster.server(0).gateway}/_rp/metrics`)).text();
    const value = (text: string, name: string): number => Number(new RegExp(`^restpipe_server_${name}_total (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    expect(value(origin, 'cluster_forwarded')).toBeGreaterThan(0);
    expect(value(origin, 'cluster_noresponders')).toBeGreaterThan(0);
    expect(value(holder, 'cluster_received')).toBeGreaterThan(0);
    expect(value(holder, 'cluster_dropped')).toBe(0);
  });

  it('gives each client of a broadcast its own entry: text as text, failures as envelopes, deadlines each', async () => {
    type Entry = { status: number; returnCode: number | null; mimeType: string; body: any; encoding?: string };
    const ask = async (path: string, headers: Record<string, string> = {}) => {
      const response = await fetch(`${cluster.server(2).gateway}/client/*/${path}`, { headers });
      expect(response.status).toBe(200);
      return (await response.json()) as { count: number; results: Record<string, Entry> };
    };
    const text = await ask('custom');
    expect(text.results['node-a']).toEqual({ status: 200, returnCode: 7, mimeType: 'text/plain', body: 'short and stout' });
    const boom = await ask('boom');
    expect(boom.count).toBe(3);
    for (const entry of Object.values(boom.results)) {
      expect(entry).toMatchObject({ status: 500, returnCode: 251, mimeType: 'application/json' });
      expect(entry.body.exception.class).toBe('TypeError');
    }
    const slow = await ask('slow?ms=10000', { 'x-event-timeout-ms': '300' });
    for (const entry of Object.values(slow.results)) expect(entry).toMatchObject({ status: 504, body: { exception: { code: 'RP_ERR_EVENT_TIMEOUT' } } });
    // A client whose handler has no such method fails alone; the others answer.
    const odd = await cluster.startClient('odd-one', 1, holdArgs(cluster.certs, 'client', 'odd-one'));
    await cluster.waitForClient('odd-one', 2);
    const mixed = await ask('cat//y');
    expect(mixed.count).toBe(4);
    expect(mixed.results['odd-one']).toMatchObject({ status: 404, returnCode: 255, body: { exception: { code: 'RP_ERR_UNKNOWN_HANDLER' } } });
    expect(mixed.results['node.dotted']).toMatchObject({ status: 200, body: { result_from_client: 'y' } });
    await odd.stop();
  });
});
