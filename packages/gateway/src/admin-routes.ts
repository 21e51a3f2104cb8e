import type { FastifyInstance } from 'fastify';
import type { ClientInfo, OfflineClientInfo } from '@restpipe/core';
import { wantsOffline } from './list-query.js';
import { clientList } from './watch/client-list.js';
import type { OwnCertificate } from './watch/watch-types.js';

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
  /** Server: clients seen before and gone now, newest gone first (SPEC §13). */
  offlineClients?(): OfflineClientInfo[];
  /** Server: forgets them; says how many. */
  clearOfflineClients?(): number;
  /** The node's own certificate now (reloads change it). */
  certificate?(): OwnCertificate | undefined;
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
      ...certHealth(status),
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
    app.get('/_rp/clients', async (request) => {
      const online = await clients();
      if (!wantsOffline(request.query as Record<string, string | string[]>)) return online;
      return clientList(online, status.offlineClients?.() ?? [], clusterNodeOf(status));
    });
  }
}

/** `/_rp/health`'s `cluster`: the NATS link and how many nodes this one sees, itself included. */
function clusterHealth(status: NodeStatus): { cluster?: { nats: string; nodes: number } } {
  const view = status.cluster?.();
  if (!view || view.cluster === 'off') return {};
  return { cluster: { nats: view.nats, nodes: view.nodes.length } };
}

/** `/_rp/health`'s `cert`: when the node's own certificate ends. */
function certHealth(status: NodeStatus): { cert?: { notAfter: string; daysLeft: number } } {
  const cert = certificateHealth(status);
  return cert ? { cert } : {};
}

/** The node's own certificate now: when it ends, and in how many whole days. */
export function certificateHealth(status: NodeStatus): { notAfter: string; daysLeft: number } | undefined {
  const cert = status.certificate?.();
  return cert && { notAfter: cert.notAfter, daysLeft: daysUntil(cert.notAfter) };
}

/** Whole days from now to `iso` (negative once past), rounded down. */
function daysUntil(iso: string): number {
  return Math.floor((Date.parse(iso) - Date.now()) / 86_400_000);
}

/** This node's id in its cluster; undefined out of one. */
export function clusterNodeOf(status: NodeStatus): string | undefined {
  const view = status.cluster?.();
  return view && view.cluster !== 'off' ? view.node : undefined;
}
