import type { ClientInfo, OfflineClientInfo } from '@restpipe/core';

/**
 * `/_rp/clients?offline=1` and the dashboard's list: connected clients (every node's, in a
 * cluster) marked online, then this node's offline ones, less any name connected now (a
 * client that moved to another node is there, not gone), each with this node's name.
 */
export function clientList(online: readonly ClientInfo[], offline: readonly OfflineClientInfo[], node: string | undefined): object[] {
  const names = new Set(online.map((c) => c.name));
  const gone = offline.filter((c) => !names.has(c.name)).map((c) => (node === undefined ? c : { ...c, node }));
  return [...online.map((c) => ({ ...c, online: true })), ...gone];
}
