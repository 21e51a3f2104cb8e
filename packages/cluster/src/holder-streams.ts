import type { Msg } from '@nats-io/transport-node';
import { BodyTooLargeError, MAX_PEER_DEADLINE_MS, ProtocolError, type PipeRequest, type PipeResponse, type RpError } from '@restpipe/core';
import type { ForwardedRequest } from './codec.js';
import { H_REPLY_STREAM, H_STREAM, H_WINDOW } from './forward-streams.js';
import { H_ORIGIN } from './forwarder.js';
import { nodeIdOf } from './messages.js';
import { isStreamId } from './relay-messages.js';
import type { RelayStreams } from './relay-streams.js';

const MAX_WINDOW_BYTES = 0xffff_ffff;

/** A stream's idle limit on the holder: the request's deadline, as the origin sent it (clamped as any peer's). */
export function idleMsOf(timeoutMs: number | undefined, defaultMs: number): number {
  return Math.min(timeoutMs || defaultMs, MAX_PEER_DEADLINE_MS);
}

/**
 * The holder's side of a forwarded request's streamed body (SPEC §12 across §11): a
 * Readable the local connection sends on as the request's body, read from the stream its
 * origin announced. Nothing is granted yet: `relay.open(id)` starts the origin, once the
 * local connection took the request. ProtocolError for a stream no header announces.
 */
export function takeUpload(relay: RelayStreams, msg: Msg, forwarded: ForwardedRequest, defaultMs: number): string | undefined {
  if (!forwarded.streamed) return undefined;
  const id = msg.headers?.get(H_STREAM);
  if (!isStreamId(id)) throw new ProtocolError('a streamed request must name its stream (Rp-Stream)');
  const origin = nodeIdOf(msg.headers?.get(H_ORIGIN));
  const { request } = forwarded;
  request.body = relay.receive(id, origin, idleMsOf(request.timeoutMs, defaultMs), forwarded.size);
  if (forwarded.size !== undefined) request.size = forwarded.size;
  return id;
}

/** Where a streamed reply goes: the origin's node, the stream it offered, and the window it starts with. */
export interface ReplyRoute {
  readonly origin: string;
  readonly id: string;
  readonly window: number;
}

/** The reply stream the origin offered; a BodyTooLargeError when it offered none (a node that takes no streamed reply), a ProtocolError for an id in use. */
export function replyRoute(msg: Msg, relay: RelayStreams): ReplyRoute | RpError {
  const id = msg.headers?.get(H_REPLY_STREAM);
  const window = Number(msg.headers?.get(H_WINDOW));
  let origin: string;
  try {
    origin = nodeIdOf(msg.headers?.get(H_ORIGIN));
  } catch {
    origin = '';
  }
  if (!isStreamId(id) || origin === '' || !Number.isInteger(window) || window < 1 || window > MAX_WINDOW_BYTES) {
    return new BodyTooLargeError('the handler answered with a stream, and the node the request came from offered no stream to take it');
  }
  if (relay.has(id)) return new ProtocolError('a forwarded request offered a reply stream id already in use here');
  return { origin, id, window };
}

/** Sends a streamed response's body to the origin, after its Reply went. */
export function sendReplyStream(relay: RelayStreams, route: ReplyRoute, response: PipeResponse, request: PipeRequest, defaultMs: number): void {
  relay.send(route.id, route.origin, response.stream, route.window, { idleMs: idleMsOf(request.timeoutMs, defaultMs) });
}
