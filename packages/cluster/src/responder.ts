import { headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { ProtocolError, type PipeRequest, type PipeResponse, type ServerSide } from '@restpipe/core';
import { decodeForwarded, outcomeOf, type Outcome } from './codec.js';
import { countCluster } from './cluster-diagnostics.js';
import { H_HOPS, H_ID, H_ORIGIN, H_STATUS } from './forwarder.js';
import { replyRoute, sendReplyStream, takeUpload } from './holder-streams.js';
import { tooLarge } from './payload-room.js';
import type { RelayStreams } from './relay-streams.js';

/** Forwarded requests being answered here, by `origin/id`: how a caller's hang-up reaches them. */
export class Cancels {
  readonly #cancels = new Map<string, () => void>();

  set(key: string, cancel: () => void): void {
    this.#cancels.set(key, cancel);
  }

  delete(key: string): void {
    this.#cancels.delete(key);
  }

  cancel(key: string): void {
    this.#cancels.get(key)?.();
  }
}

/** What the holder's side of forwarded requests works with. */
export interface HolderContext {
  readonly owner: object;
  readonly side: ServerSide;
  readonly cancels: Cancels;
  readonly relay: RelayStreams;
  /** The server's --timeout-ms: a stream's idle limit when the request carries no deadline. */
  readonly defaultTimeoutMs: number;
}

/**
 * The holder's side of a forwarded request (SPEC §11): the request goes out on this
 * node's own connection of the name, never on to a third node, and its reply or failure
 * goes back. A streamed body (SPEC §12) is read from its stream as the local connection
 * sends it on, and a streamed reply goes back on the stream the origin offered. A message
 * that does not parse is dropped, counted and answered 502.
 */
export function answerForwarded(context: HolderContext, nc: NatsConnection, name: string, msg: Msg): void {
  const { owner, side, cancels, relay } = context;
  countCluster(owner, 'received');
  if (!msg.reply) return;
  let request: PipeRequest;
  let upload: string | undefined;
  try {
    if (msg.headers?.get(H_HOPS) !== '1') throw new ProtocolError('a forwarded request must carry Rp-Hops: 1');
    const forwarded = decodeForwarded(msg.data);
    request = forwarded.request;
    upload = takeUpload(relay, msg, forwarded, context.defaultTimeoutMs);
  } catch (error) {
    if (error instanceof ProtocolError) countCluster(owner, 'dropped');
    respond(nc, msg, outcomeOf({ error }));
    return;
  }
  const key = `${msg.headers?.get(H_ORIGIN) ?? ''}/${msg.headers?.get(H_ID) ?? ''}`;
  request.onCancellable = (cancel) => cancels.set(key, cancel);
  const sent = side.sendLocal(name, request);
  if (!sent) {
    if (upload !== undefined) relay.discard(upload);
    respondNobody(msg);
    return;
  }
  // The local connection took it: the origin may send the body now.
  if (upload !== undefined) relay.open(upload);
  sent.then(
    (response) => respondWith(context, nc, msg, request, response),
    (error: unknown) => respond(nc, msg, outcomeOf({ error })),
  ).finally(() => cancels.delete(key)).catch(() => countCluster(owner, 'dropped'));
}

/** A response: whole in the reply, or its Reply first and then its body on the origin's reply stream. */
function respondWith(context: HolderContext, nc: NatsConnection, msg: Msg, request: PipeRequest, response: PipeResponse): void {
  if (!response.streamed) {
    respond(nc, msg, outcomeOf({ response }));
    return;
  }
  const route = replyRoute(msg, context.relay);
  if (route instanceof Error) {
    response.stream.destroy();
    respond(nc, msg, outcomeOf({ error: route }));
    return;
  }
  if (respond(nc, msg, outcomeOf({ response }))) sendReplyStream(context.relay, route, response, request, context.defaultTimeoutMs);
  else response.stream.destroy();
}

function respondNobody(msg: Msg): void {
  const h = headers();
  h.set(H_STATUS, 'nobody');
  try {
    msg.respond(undefined, { headers: h });
  } catch {
    // The connection closed meanwhile: the sender tries again or times out.
  }
}

/** Sends the outcome; false when it could not go (the connection closed). */
function respond(nc: NatsConnection, msg: Msg, outcome: Outcome): boolean {
  const refusal = 'reply' in outcome ? tooLarge(nc, outcome.reply.length, 'reply') : undefined;
  if (refusal) outcome = outcomeOf({ error: refusal });
  const h = headers();
  h.set(H_STATUS, 'reply' in outcome ? 'reply' : 'error');
  try {
    return msg.respond('reply' in outcome ? outcome.reply : Buffer.from(JSON.stringify(outcome.error)), { headers: h });
  } catch {
    // The connection closed meanwhile: the sender's own deadline answers it.
    return false;
  }
}
