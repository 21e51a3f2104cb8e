import { BodyTooLargeError } from '@restpipe/wire';
import type { PipeRequest, PipeResponse } from '../api-types.js';
import type { PipeConnection } from '../connection.js';
import { CloseReason } from '../state.js';
import type { BroadcastOutcome } from './remote-peers.js';

/**
 * What a cluster may do to the PipeServer it is attached to: the holder's side of a
 * forwarded request, fencing an older connection, and the news of other nodes' clients.
 */
export interface ServerSide {
  /** This node's open connection of `name`, and its generation (fencing compares them); undefined when none. */
  generationOf(name: string): number | undefined;
  /** Sends on this node's own connection of `name` only; undefined when it has none open. */
  sendLocal(name: string, request: PipeRequest): Promise<PipeResponse> | undefined;
  /** Every client of this node, each with its own outcome. */
  broadcastLocal(request: PipeRequest): Promise<BroadcastOutcome[]>;
  /** Goaway `duplicate_identity` to the connection of `name` with this generation, if it is still the one. */
  fence(name: string, generation: number, message: string): boolean;
  /** `name` connected to another node: its jobs waiting here may go now. */
  arrivedElsewhere(name: string): void;
  /** A hold notice a client of another node sent: a job of this node may wait on it. */
  holdNotice(name: string, hold: string): void;
}

/** A broadcast's part on a set of connections: every one answers or fails on its own. */
export async function broadcastTo(
  targets: ReadonlyArray<{ name: string; request(request: PipeRequest): Promise<PipeResponse> }>,
  request: PipeRequest,
): Promise<BroadcastOutcome[]> {
  // One cancel hook would be taken by the last connection only: a broadcast part ends on its deadline.
  const { onCancellable: _cancel, ...each } = request;
  const settled = await Promise.allSettled(targets.map((target) => target.request({ ...each })));
  return settled.map((result, i) => (result.status === 'fulfilled'
    ? wholeOutcome(targets[i]!.name, result.value)
    : { name: targets[i]!.name, error: result.reason instanceof Error ? result.reason : new Error(String(result.reason)) }));
}

/** A broadcast's answer holds each body whole: a client that streamed its reply is a 413 there, and its stream is let go. */
function wholeOutcome(name: string, response: PipeResponse): BroadcastOutcome {
  if (!response.streamed) return { name, response };
  response.stream.destroy();
  return { name, error: new BodyTooLargeError('this client answered with a stream, and a broadcast takes only whole replies') };
}

/** A server's jobs, as its cluster side tells them of other nodes' clients. */
interface JobsNews {
  peerConnected(target: string): void;
  holdNotice(target: string, hold: string): void;
}

/** The ServerSide of a server whose open connections are `byName`. */
export function serverSide(byName: ReadonlyMap<string, PipeConnection>, jobs: JobsNews): ServerSide {
  const open = (name: string): PipeConnection | undefined => {
    const connection = byName.get(name);
    return connection?.isOpen ? connection : undefined;
  };
  return {
    generationOf: (name) => open(name)?.generation,
    sendLocal: (name, request) => open(name)?.request(request),
    broadcastLocal: (request) => broadcastLocal(byName, request),
    fence: (name, generation, message) => {
      const connection = byName.get(name);
      if (connection?.generation !== generation) return false;
      connection.goaway(CloseReason.DUPLICATE_IDENTITY, message);
      return true;
    },
    arrivedElsewhere: (name) => jobs.peerConnected(`client/${name}`),
    holdNotice: (name, hold) => jobs.holdNotice(`client/${name}`, hold),
  };
}

/** A broadcast's part on this node: every open connection. */
export function broadcastLocal(byName: ReadonlyMap<string, PipeConnection>, request: PipeRequest): Promise<BroadcastOutcome[]> {
  const open = [...byName.values()].filter((c) => c.isOpen);
  return broadcastTo(open.map((c) => ({ name: c.peer.name, request: (r: PipeRequest) => c.request(r) })), request);
}
