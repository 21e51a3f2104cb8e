import { accessSync, constants } from 'node:fs';
import { ClusterNode } from '@restpipe/cluster';
import { ConfigError, type Logger, type PipeServer } from '@restpipe/core';
import type { ClusterStatus, NodeStatus } from '@restpipe/gateway';
import type { NodeConfig } from './config.js';

/** A server's cluster side (SPEC §11), or none with `--cluster off`: then no NATS code is on any path. */
export function clusterOf(config: NodeConfig, server: PipeServer, logger: Logger): ClusterNode | undefined {
  if (config.cluster.length === 0) return undefined;
  const tls = config.clusterTls;
  for (const [flag, file] of [['--cluster-ca', tls?.caFile], ['--cluster-cert', tls?.certFile], ['--cluster-key', tls?.keyFile]] as const) {
    if (file === undefined) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch {
      throw new ConfigError(`${flag}: cannot read ${file}`);
    }
  }
  return new ClusterNode({ server, servers: config.cluster, tls, nodeId: config.nodeId, logger });
}

/** `/_rp/clients` and `/_rp/cluster` of a server, in a cluster or not: every client names its node. */
export function clusterViews(config: NodeConfig, server: PipeServer, cluster: ClusterNode | undefined): Pick<NodeStatus, 'clients' | 'cluster'> {
  if (cluster) return { clients: () => cluster.clients(), cluster: () => cluster.view() };
  const since = new Date().toISOString();
  return {
    clients: () => server.clients().map((client) => ({ ...client, node: config.nodeId })),
    cluster: (): ClusterStatus => ({
      node: config.nodeId, nats: 'disconnected', cluster: 'off', nodes: [{ node: config.nodeId, clients: server.connectionCount, since }],
    }),
  };
}
