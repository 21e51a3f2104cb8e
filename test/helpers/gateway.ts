import type { FastifyInstance } from 'fastify';
import type { PipeServer } from '@restpipe/core';
import { createGateway } from '@restpipe/gateway';

/** A server gateway over an in-process PipeServer, listening on a free loopback port. */
export async function listenServerGateway(server: PipeServer): Promise<{ gateway: FastifyInstance; base: string }> {
  const gateway = createGateway({
    status: { role: 'server', name: 'server', connected: () => true, peers: () => server.connectionCount, ready: () => true },
    send: (target, request) => server.request(target!, request),
    maxEventBytes: 1 << 20,
    timeoutMs: 5_000,
    exposeTracebacks: false,
  });
  await gateway.listen({ host: '127.0.0.1', port: 0 });
  return { gateway, base: `http://127.0.0.1:${(gateway.server.address() as { port: number }).port}` };
}
