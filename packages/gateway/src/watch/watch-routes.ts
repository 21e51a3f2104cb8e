import type { FastifyInstance } from 'fastify';
import { NotEnabledError } from '@restpipe/core';
import type { NodeStatus } from '../admin-routes.js';
import { listLimitOf } from '../list-query.js';
import type { WatchSource } from './watch-types.js';

/** `/_rp/events`, `/_rp/connections/closed`, and the offline clients (SPEC §13). */
export function registerWatchRoutes(app: FastifyInstance, watch: WatchSource, status: NodeStatus): void {
  app.get('/_rp/events', async (request) => watch.calls.newest(listLimitOf(request.query as Record<string, string | string[]>)));
  app.get('/_rp/connections/closed', async () => watch.closed.newest(1000));
  app.delete('/_rp/clients/offline', async () => {
    if (!status.clearOfflineClients) throw new NotEnabledError('only a server keeps offline clients');
    return { cleared: status.clearOfflineClients() };
  });
}
