import { X509Certificate } from 'node:crypto';
import {
  formatAddress,
  peerNameFromCertificate,
  PipeClient,
  PipeServer,
  tuningOf,
  type DurableOptions,
  type EventHandler,
  type Logger,
  type PipeOptions,
  type TlsMaterial,
} from '@restpipe/core';
import type { Broadcast, NodeStatus, Send } from '@restpipe/gateway';
import type { ClusterNode } from '@restpipe/cluster';
import { checkClusterFiles, clusterViews, joinCluster } from './cluster-node.js';
import { dataDirOf, type NodeConfig } from './config.js';
import { CrlGuard } from './crl-guard.js';
import { loadTicketKeys } from './files.js';

/** The pipe side of a running node, as the gateway and the signal handlers see it. */
export interface PipeNode {
  readonly pipe: PipeServer | PipeClient;
  readonly status: NodeStatus;
  readonly send: Send;
  /** Server: `/client/*` (SPEC §11), every connected client of the cluster. */
  readonly broadcast?: Broadcast | undefined;
  start(): Promise<string>;
  reload(tls: TlsMaterial): string;
  drain(timeoutMs: number): Promise<void>;
}

function pipeOptions(config: NodeConfig, tls: TlsMaterial, handler: EventHandler, logger: Logger): PipeOptions & DurableOptions {
  const { jobTtlMs, maxJobs, idempotencyTtlMs } = config;
  return {
    ...tuningOf(config), tls, handler, logger, exposeTracebacks: config.exposeTracebacks,
    dataDir: dataDirOf(config, ownName(tls.cert)), jobTtlMs, maxJobs, idempotencyTtlMs,
  };
}

/** When this node's certificate ends, for `/_rp/health` and the dashboard. */
function certificateOf(certPem: string | Buffer): { notAfter: string } | undefined {
  const ms = Date.parse(new X509Certificate(certPem).validTo);
  return Number.isFinite(ms) ? { notAfter: new Date(ms).toISOString() } : undefined;
}

/** This node's own name, from its certificate, as peers will see it. */
function ownName(certPem: string | Buffer): string {
  const cert = new X509Certificate(certPem);
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return peerNameFromCertificate({ subjectAltName: cert.subjectAltName, commonName: cn }) ?? 'unnamed';
}

/**
 * The CRL's serials are refused by PipeServer itself from the first handshake (a session
 * resumed with --ticket-keys-file skips OpenSSL's CRL check), and OpenSSL gets the CRL
 * only while it is within its dates (see CrlGuard).
 */
export function serverNode(config: NodeConfig, tls: TlsMaterial, handler: EventHandler, logger: Logger): PipeNode {
  const guard = new CrlGuard(config.crl, logger, (now) => server.reload(now.tls, now.revoked));
  const first = guard.prepare(tls);
  const server = new PipeServer({
    ...pipeOptions(config, first.tls, handler, logger),
    host: config.listen.host,
    port: config.listen.port,
    ticketKeys: loadTicketKeys(config),
    revokedSerials: first.revoked,
  });
  guard.commit(first);
  checkClusterFiles(config);
  let cluster: ClusterNode | undefined;
  let certificate = certificateOf(tls.cert);
  return {
    pipe: server,
    status: {
      role: 'server',
      name: ownName(tls.cert),
      connected: () => server.connectionCount > 0,
      peers: () => server.connectionCount,
      ready: () => server.listening,
      ...clusterViews(config, server, () => cluster),
      crl: () => guard.health(),
      offlineClients: () => server.offlineClients(),
      clearOfflineClients: () => server.clearOfflineClients(),
      certificate: () => certificate,
    },
    send: (target, request) => server.request(target ?? '', request),
    broadcast: (request) => server.broadcast(request),
    start: async () => {
      // Joined before the first client can connect: every name is claimed.
      cluster = await joinCluster(config, server, logger);
      const { host, port } = await server.listen();
      cluster?.start();
      return `${host}:${port}`;
    },
    reload: (material) => {
      const next = guard.prepare(material);
      const closed = server.reload(next.tls, next.revoked, loadTicketKeys(config));
      guard.commit(next);
      certificate = certificateOf(material.cert);
      return `reloaded; ${closed} revoked connection(s) closed`;
    },
    drain: async (timeoutMs) => {
      guard.stop();
      await server.drain(timeoutMs);
      await cluster?.close();
    },
  };
}

export function clientNode(config: NodeConfig, tls: TlsMaterial, handler: EventHandler, logger: Logger): PipeNode {
  const client = new PipeClient({
    ...pipeOptions(config, tls, handler, logger),
    servers: config.servers,
    serverName: config.serverName,
  });
  let certificate = certificateOf(tls.cert);
  return {
    pipe: client,
    status: {
      role: 'client',
      name: ownName(tls.cert),
      connected: () => client.isConnected,
      peers: () => (client.isConnected ? 1 : 0),
      ready: () => client.isConnected,
      certificate: () => certificate,
    },
    send: (_target, request) => client.request(request),
    start: async () => {
      client.start();
      return client.servers.map(formatAddress).join(',');
    },
    reload: (material) => {
      client.reload(material);
      certificate = certificateOf(material.cert);
      return 'reloaded; the next connection uses the new certificate';
    },
    drain: (timeoutMs) => client.drain(timeoutMs),
  };
}
