import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import parsePrometheus from 'parse-prometheus-text-format';
import { createCa, issueCertificate } from '@restpipe/certs';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { StatsdCollector } from './helpers/statsd.js';
import { waitFor } from './helpers/wait.js';

const SPEC_METRICS = [
  'connect.success|c', 'connect.fail|c', 'connection.closed|c', 'connections|g',
  'event.sent|c', 'event.received|c', 'event.error|c', 'event.timeout|c',
  'event.roundtrip|ms', 'event.handle|ms', 'event.handle.get_time|ms', 'heartbeat.rtt|ms',
];

describe('StatsD, admin endpoints and logs, from real processes', () => {
  const key = 'obs-api-key-5f2e9c';
  let statsd: StatsdCollector;
  let certs: CertDir;
  let server: NodeProcess;
  let nodeA: NodeProcess;
  let nodeB: NodeProcess;
  let rogue: NodeProcess;
  let pipePort: number;
  const auth = { authorization: `Bearer ${key}` };

  beforeAll(async () => {
    statsd = await new StatsdCollector().start();
    certs = new CertDir(['node-a', 'node-b']);
    // A client from another CA: refused on both sides (connect.fail).
    certs.write('rogue', issueCertificate(createCa(), 'client', { name: 'rogue' }));
    const keyFile = join(certs.dir, 'api.key');
    writeFileSync(keyFile, key);
    chmodSync(keyFile, 0o600);
    pipePort = await freePort();
    const common = ['--statsd', `127.0.0.1:${statsd.port}`, '--heartbeat-ms', '100', '--api-key-file', keyFile];
    // DEBUG=1 logs the most there is to log: the redaction check wants that.
    server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, ...common], { DEBUG: '1' });
    const clientArgs = ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', ...common];
    nodeA = await startNode('client', certs, 'node-a', clientArgs, { DEBUG: '1' });
    nodeB = await startNode('client', certs, 'node-b', clientArgs);
    rogue = await startNode('client', certs, 'rogue', clientArgs);
    await waitFor(async () => (await fetch(`${nodeA.gateway}/_rp/ready`, { headers: auth })).ok, 'node-a');
    await waitFor(async () => (await fetch(`${nodeB.gateway}/_rp/ready`, { headers: auth })).ok, 'node-b');
  });

  afterAll(async () => {
    statsd?.close();
    await Promise.all([nodeA, nodeB, rogue, server].map((n) => n?.stop()));
  });

  it('sends every SPEC metric name with its type, from both sides', async () => {
    const calls = [
      fetch(`${nodeA.gateway}/server/time`, { headers: auth }),
      fetch(`${server.gateway}/client/node-a/time`, { headers: auth }),
      fetch(`${nodeA.gateway}/server/boom`, { headers: auth }),
      fetch(`${server.gateway}/client/node-a/boom`, { headers: auth }),
      fetch(`${nodeA.gateway}/server/slow`, { headers: { ...auth, 'x-event-timeout-ms': '100' } }),
      fetch(`${server.gateway}/client/node-a/slow`, { headers: { ...auth, 'x-event-timeout-ms': '100' } }),
    ];
    await Promise.all(calls);
    // node-b leaves: the server counts a closed connection, node-b its own as it drains.
    expect(await nodeB.stop()).toBe(0);
    const expected = ['restpipe.server', 'restpipe.client'].flatMap((p) => SPEC_METRICS.map((m) => `${p}.${m}`));
    await waitFor(() => expected.every((k) => statsd.kinds().has(k)), `all of ${expected.length} metric kinds`, 15_000).catch(() => {
      throw new Error(`missing: ${expected.filter((k) => !statsd.kinds().has(k)).join(', ')}`);
    });
    expect(statsd.lines.some((l) => /^restpipe\.server\.connections:\d+\|g$/.test(l))).toBe(true);
  });

  it('/_rp/clients counts move by exactly the requests made', async () => {
    const read = async () => ((await (await fetch(`${server.gateway}/_rp/clients`, { headers: auth })).json()) as Array<{ name: string; eventsIn: number; eventsOut: number; inFlight: number; rttMs: number | null }>).find((c) => c.name === 'node-a')!;
    const before = await read();
    for (let i = 0; i < 7; i++) await fetch(`${nodeA.gateway}/server/time`, { headers: auth });
    for (let i = 0; i < 3; i++) await fetch(`${server.gateway}/client/node-a/time`, { headers: auth });
    const after = await read();
    expect(after.eventsIn - before.eventsIn).toBe(7);
    expect(after.eventsOut - before.eventsOut).toBe(3);
    expect(after.inFlight).toBe(0);
    expect(after.rttMs).toBeGreaterThan(0);
  });

  it('/_rp/metrics is Prometheus text with the same counters and timings', async () => {
    const response = await fetch(`${server.gateway}/_rp/metrics`, { headers: auth });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    const families = parsePrometheus(await response.text()) as Array<{ name: string; type: string; metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string }> }>;
    const byName = new Map(families.map((f) => [f.name, f]));
    expect(byName.get('restpipe_server_event_received_total')?.type).toBe('COUNTER');
    expect(Number(byName.get('restpipe_server_event_received_total')!.metrics[0]!.value)).toBeGreaterThanOrEqual(10);
    expect(byName.get('restpipe_server_connections')?.type).toBe('GAUGE');
    expect(byName.get('restpipe_server_event_roundtrip_seconds')?.type).toBe('HISTOGRAM');
    const handle = byName.get('restpipe_server_event_handle_seconds')!;
    expect(handle.type).toBe('HISTOGRAM');
    // This parser folds labelled histogram series together; the buckets still count the events handled.
    expect(Number(handle.metrics[0]!.buckets!['+Inf'])).toBeGreaterThanOrEqual(1);
    for (const name of ['connect_success', 'connect_fail', 'connection_closed', 'event_sent', 'event_error', 'event_timeout']) {
      expect(byName.get(`restpipe_server_${name}_total`)?.type, name).toBe('COUNTER');
    }
    expect(byName.get('restpipe_server_heartbeat_rtt_seconds')?.type).toBe('HISTOGRAM');
    expect((await fetch(`${server.gateway}/_rp/metrics`)).status).toBe(401);
  });

  it('logs JSON lines that carry the request id on both nodes', async () => {
    await fetch(`${nodeA.gateway}/server/time`, { headers: { ...auth, 'x-request-id': 'obs-trace-1' } });
    await waitFor(() => server.output().includes('obs-trace-1') && nodeA.output().includes('obs-trace-1'), 'both log lines');
    const records = (text: string) => text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const handled = records(server.output()).find((r) => r['requestId'] === 'obs-trace-1' && r['msg'] === 'event handled');
    expect(handled).toMatchObject({ peer: 'node-a', handler: 'get_time', returnCode: 0, failed: false });
    expect(handled!['durationMs']).toBeTypeOf('number');
    const done = records(nodeA.output()).find((r) => r['requestId'] === 'obs-trace-1' && r['msg'] === 'event done');
    expect(done).toMatchObject({ peer: 'server', handler: 'get_time', returnCode: 0, status: 200 });
  });

  it('logs each connection change with its reason, and a refused certificate with why', () => {
    const lines = server.output();
    expect(lines).toMatch(/"msg":"client connected"/);
    expect(lines).toMatch(/"peer":"node-b"[^\n]*"reason":"[a-z_:]+"[^\n]*"msg":"client disconnected"/);
    expect(lines).toMatch(/"err":"TLS handshake refused: client certificate rejected: [A-Z_]+"[^\n]*"msg":"pipe connection refused"/);
  });

  it('never logs an API key, an Authorization header or a private key', async () => {
    await fetch(`${nodeA.gateway}/server/time`, { headers: { authorization: `Bearer ${key}-wrong` } });
    await fetch(`${nodeA.gateway}/server/time`, { headers: auth });
    const everything = [server, nodeA, nodeB, rogue].map((n) => n.output()).join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    expect(everything).not.toContain(key);
    expect(everything).not.toContain('PRIVATE KEY');
    expect(everything).not.toMatch(/Bearer /i);
  });
});

describe('StatsD that is off or unreachable never touches the pipe', () => {
  it('an empty RP_STATSD_HOST sends nothing, and the pipe works', async () => {
    const statsd = await new StatsdCollector().start();
    const certs = new CertDir(['node-a']);
    const pipePort = await freePort();
    const env = { RP_STATSD_HOST: '', RP_STATSD_PORT: String(statsd.port) };
    const server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`], env);
    const client = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost'], env);
    try {
      await waitFor(async () => (await fetch(`${client.gateway}/server/time`)).ok, 'a request through the pipe');
      for (let i = 0; i < 20; i++) expect((await fetch(`${server.gateway}/client/node-a/time`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 500));
      expect(statsd.lines).toEqual([]);
    } finally {
      statsd.close();
      await Promise.all([client.stop(), server.stop()]);
    }
  });

  it('an unresolvable StatsD host fails no event and logs at most once a minute', async () => {
    const certs = new CertDir(['node-a']);
    const pipePort = await freePort();
    const statsdFlag = ['--statsd', 'statsd.invalid:8125'];
    const server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, ...statsdFlag]);
    const client = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', ...statsdFlag]);
    try {
      await waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`)).ok, 'the pipe');
      const results = await Promise.all(Array.from({ length: 200 }, () => fetch(`${client.gateway}/server/time`).then((r) => r.status)));
      expect(results.every((s) => s === 200)).toBe(true);
      await new Promise((r) => setTimeout(r, 800));
      const warnings = client.output().split('\n').filter((l) => l.includes('statsd send failed'));
      expect(warnings.length).toBeLessThanOrEqual(1);
    } finally {
      await Promise.all([client.stop(), server.stop()]);
    }
  });
});
