import { ClusterUnavailableError, PeerUnavailableError, UnknownClientError } from '@restpipe/wire';
import type { PipeRequest, PipeResponse } from '../api-types.js';
import type { PipeConnection } from '../connection.js';
import { NOBODY, type RemotePeers } from './remote-peers.js';

/** Between tries while nobody answers for a name: a new claim may not have reached every server yet. */
const RETRY_MS = [25, 50, 100, 200, 400] as const;

export interface RouteContext {
  readonly remote: RemotePeers;
  /** This node's open connection of that name. */
  local(name: string): PipeConnection | undefined;
  /** A client of that name has connected to this node since it started. */
  knownHere(name: string): boolean;
  readonly connectWaitMs: number;
}

/**
 * A request for a client that is not connected here (SPEC §11): forwarded to its holder,
 * or, while nobody holds it, tried again until `connectWaitMs` has passed. Then 404 for a
 * name never seen in the cluster, 503 for one seen, and 503 ClusterUnavailableError while
 * the cluster cannot be reached. Never a 504 for a name nobody holds.
 */
export async function routeRequest(context: RouteContext, name: string, request: PipeRequest): Promise<PipeResponse> {
  const deadline = performance.now() + context.connectWaitMs;
  for (let attempt = 0; ; attempt += 1) {
    const here = context.local(name);
    if (here?.isOpen) return here.request(request);
    if (context.remote.up) {
      const outcome = await context.remote.forward(name, request);
      if (outcome !== NOBODY) return outcome;
    }
    const left = deadline - performance.now();
    if (left <= 0) break;
    // A claim wakes the wait at once; a name held elsewhere is tried again soon (its claim may still be spreading).
    const pause = context.remote.heldElsewhere(name) ? RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]! : left;
    await context.remote.arrival(name, Math.min(left, pause));
  }
  const here = context.local(name);
  if (here?.isOpen) return here.request(request);
  if (!context.remote.up) throw new ClusterUnavailableError(`client ${name} is not connected here and the cluster cannot be reached`);
  if (context.knownHere(name) || context.remote.seen(name)) throw new PeerUnavailableError(`client ${name} is not connected`);
  throw new UnknownClientError(`no client named ${name} has connected to this cluster`);
}
