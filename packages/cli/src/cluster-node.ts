import { accessSync, constants } from 'node:fs';
import type { ClusterNode } from '@restpipe/cluster';
import { ConfigError, type Logger, type PipeServer } from '@restpipe/core';
import type { ClusterStatus, NodeStatus } from '@restpipe/gateway';
import type { NodeConfig } from './config.js';

/** The TLS files for NATS, checked readable before anything starts: a typo is a usage error, not a retry loop. */
export function checkClusterFiles(config: NodeConfig): void {
  const tls = config.clusterTls;
  for (const [flag, file] of [['--cluster-ca', tls?.caFile], ['--cluster-cert', tls?.certFile], ['--cluster-key', tls?.keyFile]] as const) {
    if (file === undefined) continue;
    try {
      accessSync(file, constants.R_OK);
    } catch {
      throw new ConfigError(`${flag}: cannot read ${file}`);
    }
  }
}

/**
 * A server's cluster side (SPEC §11), or none with `--cluster off`: the cluster package (and
 * the NATS client) is loaded only for a node that joins one.
 */
export async function joinCluster(config: NodeConfig, server: PipeServer, logger: Logger): Promise<ClusterNode | undefined> {
  if (config.cluster.length === 0) return undefined;
  const { ClusterNode } = await import('@restpipe/cluster');
  return new ClusterNode({ server, servers: config.cluster, tls: config.clusterTls, nodeId: config.nodeId, logger });
}

/** `/_rp/clients` and `/_rp/cluster` of a server, in a cluster or not: every client names its node. */
export function clusterViews(config: NodeConfig, server: PipeServer, cluster: () => ClusterNode | undefined): Pick<NodeStatus, 'clients' | 'cluster'> {
  const since = new Date().toISOString();
  return {
    clients: () => cluster()?.clients() ?? server.clients().map((client) => ({ ...client, node: config.nodeId })),
    cluster: (): ClusterStatus => cluster()?.view() ?? {
      node: config.nodeId, nats: 'disconnected', cluster: 'off', nodes: [{ node: config.nodeId, clients: server.connectionCount, since }],
    },
  };
}
