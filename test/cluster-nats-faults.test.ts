/**
 * SPEC §11 and issue 15, NATS faults with real nats-server processes: NATS unreachable at start,
 * NATS lost at run time (local clients still served, others 503 ClusterUnavailableError, then the
 * cluster heals), and one nats-server killed while requests flow (its rp-servers move to another,
 * and no request hangs past its deadline).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, natsHosts, recordsOf, viewOf } from './helpers/cluster-probes.js';
import { call, type HttpAnswer } from './helpers/http.js';
import { natsServerAvailable, startNatsCluster, type NatsCluster } from './helpers/nats-cluster.js';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { startRpCluster, type RpCluster } from './helpers/rp-cluster.js';
import { waitFor } from './helpers/wait.js';

const CONNECT_WAIT_MS = 1_000;
/** Each request's own deadline; the fetch gives up well past it plus the holder's 2 s slack: that is a hang. */
const DEADLINE_MS = 2_000;
const HANG_MS = DEADLINE_MS + 2_000 + 6_000;

function get(gateway: string, path: string): Promise<HttpAnswer> {
  return call(`${gateway}${path}`, { headers: { 'x-event-timeout-ms': String(DEADLINE_MS) }, signal: AbortSignal.timeout(HANG_MS) });
}

describe.runIf(natsServerAvailable())('NATS unreachable when an rp-server starts', () => {
  let nats: NatsCluster;
  let certs: CertDir;
  let server: NodeProcess;
  let client: NodeProcess;

  beforeAll(async () => {
    nats = await startNatsCluster({ size: 1 });
    await nats.kill(0);
    certs = new CertDir(['solo-a']);
    const port = await freePort();
    server = await startNode('server', certs, 'server', [
      '--listen', `127.0.0.1:${port}`, '--node-id', 'solo', '--cluster', nats.urls[0]!, '--connect-wait-ms', String(CONNECT_WAIT_MS),
    ]);
    client = await startNode('client', certs, 'solo-a', ['--server', `127.0.0.1:${port}`, '--server-name', 'localhost']);
    await waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`)).ok, 'solo-a to be connected');
  }, 60_000);

  afterAll(async () => {
    await client?.stop();
    await server?.stop();
    await nats?.stop();
  });

  it('starts, serves its own client, and answers 503 ClusterUnavailableError for any other name', async () => {
    expect(server.exitCode).toBeNull();
    const local = await get(server.gateway, '/client/solo-a/cat//a/b');
    expect(local.status).toBe(200);
    expect(local.json()).toEqual({ result_from_client: 'ab' });
    const remote = await get(server.gateway, '/client/somewhere-else/time');
    expect(remote.status).toBe(503);
    expect(codeOf(remote)).toBe('RP_ERR_CLUSTER_UNAVAILABLE');
    expect(remote.json().exception.class).toBe('ClusterUnavailableError');
  });

  it('says so in /_rp/cluster and /_rp/health, and logs while it retries', async () => {
    const view = await viewOf(server.gateway);
    expect(view.nats).toBe('disconnected');
    expect(view.nodes).toEqual([expect.objectContaining({ node: 'solo', clients: 1 })]);
    const health = (await (await fetch(`${server.gateway}/_rp/health`)).json()) as { cluster: unknown };
    expect(health.cluster).toEqual({ nats: 'disconnected', nodes: 1 });
    const warned = await waitFor(() => recordsOf(server, 'cluster: cannot connect to NATS; serving local clients, retrying')[0], 'the warning', 10_000);
    expect(warned['servers']).toEqual([nats.urls[0]]);
  });

  it('joins once NATS is there', async () => {
    await nats.restart(0);
    await waitFor(async () => (await viewOf(server.gateway)).nats === 'connected', 'the node to connect to NATS', 15_000, 50);
    // Connected, alone in the cluster: a name nobody has seen is 404 again, not 503.
    const remote = await get(server.gateway, '/client/somewhere-else/time');
    expect(remote.status).toBe(404);
    expect(codeOf(remote)).toBe('RP_ERR_UNKNOWN_CLIENT');
    expect((await get(server.gateway, '/client/solo-a/time')).status).toBe(200);
  });
});

describe.runIf(natsServerAvailable())('NATS lost while a cluster runs', () => {
  let cluster: RpCluster;

  beforeAll(async () => {
    cluster = await startRpCluster({ clients: ['on-n0', 'on-n1', 'on-n2'], serverArgs: ['--connect-wait-ms', String(CONNECT_WAIT_MS)] });
    for (let i = 0; i < 3; i += 1) await cluster.startClient(`on-n${i}`, i);
    for (let i = 0; i < 3; i += 1) expect(await cluster.waitForClient(`on-n${i}`, (i + 1) % 3)).toBe(`n${i}`);
    await cluster.waitForNodes(3);
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('with every nats-server gone: local clients still work, others answer 503 ClusterUnavailableError', async () => {
    for (let i = 0; i < 3; i += 1) await cluster.nats.kill(i);
    for (let via = 0; via < 3; via += 1) {
      await waitFor(async () => (await viewOf(cluster.server(via).gateway)).nats === 'disconnected', `n${via} to see NATS gone`, 10_000, 50);
    }
    for (let via = 0; via < 3; via += 1) {
      const gateway = cluster.server(via).gateway;
      const local = await get(gateway, `/client/on-n${via}/cat//x/${via}`);
      expect(local.status, local.text).toBe(200);
      expect(local.json()).toEqual({ result_from_client: `x${via}` });
      const remote = await get(gateway, `/client/on-n${(via + 1) % 3}/time`);
      expect(remote.status, remote.text).toBe(503);
      expect(codeOf(remote)).toBe('RP_ERR_CLUSTER_UNAVAILABLE');
      const health = (await (await fetch(`${gateway}/_rp/health`)).json()) as { cluster: { nats: string } };
      expect(health.cluster.nats).toBe('disconnected');
    }
  }, 60_000);

  it('heals when NATS is back: every node sees the others, and every client is reached from every node', async () => {
    for (let i = 0; i < 3; i += 1) await cluster.nats.restart(i);
    await cluster.waitForNodes(3);
    for (let via = 0; via < 3; via += 1) {
      for (let i = 0; i < 3; i += 1) {
        const answer = await get(cluster.server(via).gateway, `/client/on-n${i}/cat//${via}/${i}`);
        expect(answer.status, `n${via} -> on-n${i}: ${answer.text}`).toBe(200);
        expect(answer.json()).toEqual({ result_from_client: `${via}${i}` });
      }
    }
  }, 60_000);

  it('a nats-server killed (-9) while requests flow: its rp-servers move to another, requests work again, none hangs', async () => {
    const before = await natsHosts(cluster);
    expect([...before.keys()].sort()).toEqual(['n0', 'n1', 'n2']);
    // The nats-server that carries the most rp-servers.
    const counts = [0, 1, 2].map((i) => [...before.values()].filter((v) => v === i).length);
    const victim = counts.indexOf(Math.max(...counts));
    const moved = [...before].filter(([, i]) => i === victim).map(([node]) => node).sort();

    // Three callers, each asking from one node for the clients of the two others, until told to stop.
    type Outcome = { via: number; status: number; code: string | undefined; at: number; tookMs: number };
    const outcomes: Outcome[] = [];
    let killedAt = Number.POSITIVE_INFINITY;
    let running = true;
    const caller = async (via: number): Promise<void> => {
      for (let n = 0; running; n += 1) {
        const target = `on-n${(via + 1 + (n % 2)) % 3}`;
        const sent = performance.now();
        const answer = await get(cluster.server(via).gateway, `/client/${target}/time`);
        outcomes.push({ via, status: answer.status, code: codeOf(answer), at: performance.now(), tookMs: performance.now() - sent });
      }
    };
    /** Each caller's last `n` outcomes after the kill were 200. */
    const recovered = (n: number): boolean => [0, 1, 2].every((via) => {
      const mine = outcomes.filter((o) => o.via === via && o.at > killedAt);
      return mine.length >= n && mine.slice(-n).every((o) => o.status === 200);
    });
    const callers = [0, 1, 2].map((via) => caller(via));
    try {
      await waitFor(() => [0, 1, 2].every((via) => outcomes.filter((o) => o.via === via && o.status === 200).length >= 10), 'requests to flow', 10_000);
      killedAt = performance.now();
      await cluster.nats.kill(victim);
      await waitFor(() => recovered(10), 'every caller to succeed ten times in a row after the kill', 20_000, 50);
    } finally {
      running = false;
      await Promise.all(callers);
    }
    const failed = outcomes.filter((o) => o.at > killedAt && o.status !== 200);
    const lastFailure = failed.length > 0 ? `last failure ${Math.round(failed.at(-1)!.at - killedAt)} ms after it` : 'no failure';
    console.log(`nats-server ${victim} killed (carrying ${moved.join(', ')}): ${outcomes.length} requests, ${failed.length} failed after the kill `
      + `(${[...new Set(failed.map((o) => `${o.status} ${o.code}`))].join('; ') || 'none'}); ${lastFailure}; `
      + `longest request ${Math.round(Math.max(...outcomes.map((o) => o.tookMs)))} ms (deadline ${DEADLINE_MS} ms)`);
    // During the fault, only the statuses SPEC §11 gives for it: none is a 504, none hung (the fetch would have thrown).
    for (const s of failed) {
      expect([502, 503]).toContain(s.status);
      expect(['RP_ERR_PEER_DISCONNECTED', 'RP_ERR_PEER_UNAVAILABLE', 'RP_ERR_CLUSTER_UNAVAILABLE']).toContain(s.code);
    }
    const now = await natsHosts(cluster);
    expect([...now.keys()].sort()).toEqual(['n0', 'n1', 'n2']);
    for (const node of moved) expect(now.get(node)).not.toBe(victim);
    for (let via = 0; via < 3; via += 1) expect((await viewOf(cluster.server(via).gateway)).nats).toBe('connected');
  }, 60_000);
});
