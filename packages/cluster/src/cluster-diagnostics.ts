import { diagnostics, type ClusterMessage } from '@restpipe/core';

/** Counts one cluster happening on `restpipe:cluster`: the metrics package makes `P.cluster.*` of it. */
export function countCluster(owner: object, count: ClusterMessage['count']): void {
  if (diagnostics.cluster.hasSubscribers) diagnostics.cluster.publish({ owner, count } satisfies ClusterMessage);
}
