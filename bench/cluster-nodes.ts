/**
 * The processes of the cluster bench: three Debian `nats-server`s in a routed cluster
 * (test/helpers/nats-cluster.ts, the launcher the cluster tests use: it waits until every
 * server is routed to the others, and reaps them if the bench dies), and three real
 * `rp-server --cluster` processes n0..n2, node i given nats-server i only.
 */
import { join } from 'node:path';
import { startNatsCluster, type NatsCluster } from '../test/helpers/nats-cluster.js';
import { startCli, waitOk, type CliNode } from './cli-node.js';
import { freePort, sleep } from './lib.js';
import { natsServerPath } from './nats.js';

export const NODES = 3;
const SETTLE_TIMEOUT_MS = 30_000;

export interface RpNode {
  id: string;
  pipePort: number;
  /** `http://127.0.0.1:PORT` of its gateway. */
  gateway: string;
  cli: CliNode;
}

export interface ClusterNodes {
  nats: NatsCluster;
  nodes: RpNode[];
  stop(): Promise<void>;
}

/** The pids of the nodes and of the nats-servers, by name, for cluster-cpu.ts. */
export function clusterPids(cluster: ClusterNodes): Record<string, number> {
  const pids: Record<string, number> = {};
  for (const n of cluster.nodes) pids[`rp-server ${n.id}`] = n.cli.proc.pid!;
  cluster.nats.servers.forEach((s, i) => (pids[`nats-server ${i}`] = s.pid!));
  return pids;
}

/** The flags every process of the bench shares: quiet, no StatsD, no data directory. */
export const QUIET = ['--statsd', 'off', '--log-level', 'warn', '--data-dir', 'off'];

export async function startClusterNodes(certDir: string): Promise<ClusterNodes> {
  if (!natsServerPath()) throw new Error('bench: the cluster part needs nats-server (apt-get install nats-server)');
  const nats = await startNatsCluster({ size: NODES });
  const nodes: RpNode[] = [];
  const stop = async (): Promise<void> => {
    for (const n of nodes) n.cli.proc.kill('SIGKILL');
    await nats.stop();
  };
  try {
    for (let i = 0; i < NODES; i++) {
      const [pipePort, gatewayPort] = await Promise.all([freePort(), freePort()]);
      const cli = startCli('rp-server.js', [
        '--listen', `127.0.0.1:${pipePort}`, '--gateway', `127.0.0.1:${gatewayPort}`,
        // Only its own nats-server: the NATS client shuffles a list of several (packages/cluster/src/nats-link.ts
        // leaves noRandomize off), which can put n0 and n1 on one server and take the route out of the cross-node path.
        '--node-id', `n${i}`, '--cluster', nats.urls[i]!,
        '--cert', join(certDir, 'server.crt.pem'), '--key', join(certDir, 'server.key.pem'), '--ca', join(certDir, 'ca.crt.pem'),
        ...QUIET,
      ]);
      nodes.push({ id: `n${i}`, pipePort, gateway: `http://127.0.0.1:${gatewayPort}`, cli });
    }
    for (const n of nodes) await waitOk(`${n.gateway}/_rp/ready`, n.cli);
    await settle(nodes, {});
    return { nats, nodes, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface ClusterView {
  nats: string;
  nodes: Array<{ node: string; clients: number }>;
}

/**
 * Resolves once every node's `/_rp/cluster` is connected to NATS, lists all three nodes, and
 * gives each node the client count in `clients` (absent: 0): the claims are all in place.
 */
export async function settle(nodes: RpNode[], clients: Record<string, number>): Promise<void> {
  const wanted = (view: ClusterView): boolean => view.nats === 'connected' && view.nodes.length === nodes.length
    && view.nodes.every((n) => n.clients === (clients[n.node] ?? 0));
  const start = performance.now();
  for (;;) {
    const views = await Promise.all(nodes.map((n) => fetch(`${n.gateway}/_rp/cluster`).then((r) => r.json() as Promise<ClusterView>, () => undefined)));
    if (views.every((v) => v && wanted(v))) return;
    for (const n of nodes) if (n.cli.proc.exitCode !== null) throw new Error(`bench: rp-server ${n.id} exited: ${n.cli.tail()}`);
    if (performance.now() - start > SETTLE_TIMEOUT_MS) {
      throw new Error(`bench: the cluster did not settle on ${JSON.stringify(clients)} in ${SETTLE_TIMEOUT_MS} ms: ${JSON.stringify(views)}`);
    }
    await sleep(50);
  }
}

/** Which nats-server each node is connected to, from each server's /connz (the client name is `rp-server ID`). */
export async function natsHomes(cluster: ClusterNodes): Promise<Record<string, number>> {
  const homes: Record<string, number> = {};
  await Promise.all(cluster.nats.servers.map(async (s, i) => {
    const connz = (await (await fetch(`${s.monitorUrl}/connz`)).json()) as { connections?: Array<{ name?: string }> };
    for (const c of connz.connections ?? []) if (c.name?.startsWith('rp-server ')) homes[c.name.slice('rp-server '.length)] = i;
  }));
  return homes;
}

/** Resolves once node `via` lists client `name` on node `on` in `/_rp/clients`. */
export async function waitForClient(via: RpNode, name: string, on: string): Promise<void> {
  const start = performance.now();
  for (;;) {
    const list = await fetch(`${via.gateway}/_rp/clients`).then((r) => r.json() as Promise<Array<{ name: string; node: string }>>, () => []);
    if (list.some((c) => c.name === name && c.node === on)) return;
    if (performance.now() - start > SETTLE_TIMEOUT_MS) throw new Error(`bench: ${via.id} never listed ${name} on ${on}`);
    await sleep(50);
  }
}
