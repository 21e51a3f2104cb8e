import type { FastifyInstance } from 'fastify';
import type { ClientInfo } from '@restpipe/core';

/** What the `/_rp/*` routes report about the node. */
export interface NodeStatus {
  role: 'server' | 'client';
  name: string;
  /** Client: the pipe is up. Server: at least one client is connected. */
  connected(): boolean;
  peers(): number;
  /** Client: the pipe is up. Server: listening. */
  ready(): boolean;
  /** Server only: in a cluster, every node's clients, each with its `node`. */
  clients?(): ClientInfo[] | Promise<ClientInfo[]>;
  /** Server only: `/_rp/cluster` (SPEC §11), and the cluster's state in `/_rp/health`. */
  cluster?(): ClusterStatus;
  /** Server with a CRL that names a nextUpdate: shown in `/_rp/health` as `crl`. */
  crl?(): { nextUpdate: string; expired: boolean } | undefined;
}

/** `/_rp/cluster` (SPEC §11). `cluster` is `off` on a node that is in none. */
export interface ClusterStatus {
  node: string;
  nats: 'connected' | 'disconnected';
  nodes: Array<{ node: string; clients: number; since: string }>;
  cluster?: 'off';
}

/** Prometheus text for `/_rp/metrics`. */
export interface MetricsSource {
  readonly contentType: string;
  text(): Promise<string>;
}

export function registerAdminRoutes(app: FastifyInstance, status: NodeStatus, metrics?: MetricsSource): void {
  app.get('/_rp/health', async () => {
    const crl = status.crl?.();
    return {
      status: 'ok',
      role: status.role,
      name: status.name,
      connected: status.connected(),
      peers: status.peers(),
      ...(crl ? { crl } : {}),
      ...clusterHealth(status),
    };
  });
  app.get('/_rp/ready', async (_request, reply) => {
    const ready = status.ready();
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  if (metrics) {
    app.get('/_rp/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.text()));
  }
  if (status.cluster) {
    const cluster = status.cluster.bind(status);
    app.get('/_rp/cluster', async () => cluster());
  }
  if (status.clients) {
    const clients = status.clients.bind(status);
    app.get('/_rp/clients', async () => clients());
  }
}

/** `/_rp/health`'s `cluster`: the NATS link and how many nodes this one sees, itself included. */
function clusterHealth(status: NodeStatus): { cluster?: { nats: string; nodes: number } } {
  const view = status.cluster?.();
  if (!view || view.cluster === 'off') return {};
  return { cluster: { nats: view.nats, nodes: view.nodes.length } };
}
