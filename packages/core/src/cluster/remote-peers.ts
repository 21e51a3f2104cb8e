import type { PipeRequest, PipeResponse } from '../api-types.js';

/** `forward` found no node answering for the name now: it may be moving, so wait and try again. */
export const NOBODY: unique symbol = Symbol('nobody');

/**
 * What a PipeServer needs of a cluster (SPEC §11) to reach clients connected to other
 * nodes. Core holds no cluster code: @restpipe/cluster implements this over NATS and
 * attaches it with `PipeServer.attachCluster()`.
 */
export interface RemotePeers {
  /** The cluster is reachable now: false while NATS is down or not yet connected. */
  readonly up: boolean;
  /**
   * Sends the request to the node holding `name` and resolves with its reply, or with
   * NOBODY when no node answers for it now. Rejects with the holder's failure (a 504 of
   * its own, a 502 when the client or the holder is lost mid-request).
   */
  forward(name: string, request: PipeRequest): Promise<PipeResponse | typeof NOBODY>;
  /** Resolves when `name` is claimed by any node (this one too), or after `ms`. */
  arrival(name: string, ms: number): Promise<void>;
  /** Some node of the cluster has had a client of this name since it started. */
  seen(name: string): boolean;
  /** Another node holds this name now, as far as this node knows. */
  heldElsewhere(name: string): boolean;
  /** Another node claimed `name` within the last second: "no responders" may only mean its claim is still spreading. */
  freshClaim(name: string): boolean;
  /** Names held by other nodes now. */
  remoteNames(): Iterable<string>;
  /** A client of this node told of a hold: the node whose job waits on it may be another. */
  holdNotice(name: string, hold: string): void;
  /** The event sent to every client of the other nodes (SPEC §11 broadcast), each with its own outcome. */
  broadcast(request: PipeRequest): Promise<BroadcastOutcome[]>;
}

/** One client's answer to a broadcast: its reply, or the failure that ended its part. */
export interface BroadcastOutcome {
  readonly name: string;
  readonly response?: PipeResponse | undefined;
  readonly error?: Error | undefined;
}
