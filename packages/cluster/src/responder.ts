import { headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { ProtocolError, type PipeRequest, type ServerSide } from '@restpipe/core';
import { decodeRequest, outcomeOf, type Outcome } from './codec.js';
import { countCluster } from './cluster-diagnostics.js';
import { H_HOPS, H_ID, H_ORIGIN, H_STATUS } from './forwarder.js';
import { tooLarge } from './payload-room.js';

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

/**
 * The holder's side of a forwarded request (SPEC §11): the request goes out on this
 * node's own connection of the name, never on to a third node, and its reply or failure
 * goes back. A message that does not parse is dropped, counted and answered 502.
 */
export function answerForwarded(owner: object, nc: NatsConnection, side: ServerSide, cancels: Cancels, name: string, msg: Msg): void {
  countCluster(owner, 'received');
  if (!msg.reply) return;
  let request: PipeRequest;
  try {
    if (msg.headers?.get(H_HOPS) !== '1') throw new ProtocolError('a forwarded request must carry Rp-Hops: 1');
    request = decodeRequest(msg.data);
  } catch (error) {
    countCluster(owner, 'dropped');
    respond(nc, msg, outcomeOf({ error }));
    return;
  }
  const key = `${msg.headers?.get(H_ORIGIN) ?? ''}/${msg.headers?.get(H_ID) ?? ''}`;
  request.onCancellable = (cancel) => cancels.set(key, cancel);
  const sent = side.sendLocal(name, request);
  if (!sent) {
    respondNobody(msg);
    return;
  }
  sent.then(
    (response) => respond(nc, msg, outcomeOf({ response })),
    (error: unknown) => respond(nc, msg, outcomeOf({ error })),
  ).finally(() => cancels.delete(key)).catch(() => countCluster(owner, 'dropped'));
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

function respond(nc: NatsConnection, msg: Msg, outcome: Outcome): void {
  const refusal = 'reply' in outcome ? tooLarge(nc, outcome.reply.length, 'reply') : undefined;
  if (refusal) outcome = outcomeOf({ error: refusal });
  const h = headers();
  h.set(H_STATUS, 'reply' in outcome ? 'reply' : 'error');
  try {
    msg.respond('reply' in outcome ? outcome.reply : Buffer.from(JSON.stringify(outcome.error)), { headers: h });
  } catch {
    // The connection closed meanwhile: the sender's own deadline answers it.
  }
}
