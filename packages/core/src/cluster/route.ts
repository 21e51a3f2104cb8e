import { ClusterUnavailableError, PeerUnavailableError, TooManyInFlightError, UnknownClientError } from '@restpipe/wire';
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
  /** Requests routed to one name at once, at most (its body held meanwhile); all names together: `maxTotal`. */
  readonly maxPerName: number;
  readonly maxTotal: number;
  readonly routing: RouteTally;
}

/** Requests being routed now, by name. */
export class RouteTally {
  readonly #byName = new Map<string, number>();
  #total = 0;

  enter(name: string, maxPerName: number, maxTotal: number): boolean {
    const now = this.#byName.get(name) ?? 0;
    if (now >= maxPerName || this.#total >= maxTotal) return false;
    this.#byName.set(name, now + 1);
    this.#total += 1;
    return true;
  }

  leave(name: string): void {
    const now = this.#byName.get(name) ?? 1;
    if (now <= 1) this.#byName.delete(name);
    else this.#byName.set(name, now - 1);
    this.#total -= 1;
  }
}

/**
 * A request for a client that is not connected here (SPEC §11): forwarded to its holder,
 * or, while nobody holds it, tried again until `connectWaitMs` has passed. Then 404 for a
 * name never seen in the cluster, 503 for one seen, and 503 ClusterUnavailableError while
 * the cluster cannot be reached. Never a 504 for a name nobody holds.
 */
export async function routeRequest(context: RouteContext, name: string, request: PipeRequest): Promise<PipeResponse> {
  if (!context.routing.enter(name, context.maxPerName, context.maxTotal)) {
    throw new TooManyInFlightError(`too many requests already on their way to ${name} through the cluster`);
  }
  try {
    return await route(context, name, request);
  } finally {
    context.routing.leave(name);
  }
}

async function route(context: RouteContext, name: string, request: PipeRequest): Promise<PipeResponse> {
  const deadline = performance.now() + context.connectWaitMs;
  for (let attempt = 0; ; attempt += 1) {
    const here = context.local(name);
    if (here?.isOpen) return here.request(request);
    if (context.remote.up) {
      const outcome = await context.remote.forward(name, request);
      if (outcome !== NOBODY) return outcome;
    }
    const left = deadline - performance.now();
    const fresh = context.remote.up && context.remote.freshClaim(name);
    if (left <= 0 && !fresh) break;
    // A claim wakes the wait at once; a name held elsewhere is tried again soon (its claim may still be spreading).
    const retry = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]!;
    const pause = fresh || context.remote.heldElsewhere(name) ? retry : left;
    await context.remote.arrival(name, left > 0 ? Math.min(left, pause) : pause);
  }
  const here = context.local(name);
  if (here?.isOpen) return here.request(request);
  if (!context.remote.up) throw new ClusterUnavailableError(`client ${name} is not connected here and the cluster cannot be reached`);
  if (context.knownHere(name) || context.remote.seen(name)) throw new PeerUnavailableError(`client ${name} is not connected`);
  throw new UnknownClientError(`no client named ${name} has connected to this cluster`);
}
