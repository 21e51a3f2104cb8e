import type { Readable } from 'node:stream';
import type { MsgHdrs } from '@nats-io/transport-node';
import { CancelledError, isStreamSource, ProtocolError, ReplyKind, responseFromReply, toReadable, type PipeRequest, type PipeResponse, type ReplyFrame } from '@restpipe/core';
import { newStreamId } from './relay-messages.js';
import type { RelayStreams } from './relay-streams.js';

/** The request's body follows as this stream (its holder reads it). */
export const H_STREAM = 'Rp-Stream';
/** A streamed reply may come as this stream (the origin reads it)... */
export const H_REPLY_STREAM = 'Rp-Reply-Stream';
/** ...within this window, before the origin's first grant. */
export const H_WINDOW = 'Rp-Window';

/** What a forwarded request's streams need of its exchange. */
export interface ExchangeHooks {
  /** Body data moved: the deadline starts again. */
  touch(): void;
  /** The body failed (its source, its deadline, the holder lost): the request fails with it. */
  fail(error: Error): void;
}

/**
 * The streams of one forwarded request, on the node it comes from (SPEC §12 across §11):
 * a reply stream it may take (always offered, its early data kept within the window), and
 * its body when that is a stream, sent from the holder's first grant on. A "nobody" answer
 * leaves the body unread, for the next try.
 */
export class ForwardStreams {
  readonly replyId = newStreamId();
  readonly uploadId: string | undefined;
  readonly #source: Readable | undefined;
  #done = false;

  constructor(
    private readonly relay: RelayStreams,
    private readonly holder: string,
    request: PipeRequest,
    private readonly idleMs: number,
  ) {
    if (isStreamSource(request.body)) {
      this.uploadId = newStreamId();
      this.#source = guarded(toReadable(request.body));
    }
  }

  /** Announces the streams in the request's headers, and waits for what they may bring. */
  announce(h: MsgHdrs, windowBytes: number, hooks: ExchangeHooks): void {
    h.set(H_REPLY_STREAM, this.replyId);
    h.set(H_WINDOW, String(windowBytes));
    this.relay.expect(this.replyId, this.holder);
    if (this.uploadId === undefined) return;
    h.set(H_STREAM, this.uploadId);
    this.relay.offer(this.uploadId, this.holder, this.#source!, {
      idleMs: this.idleMs,
      onActivity: hooks.touch,
      // The holder stopping the body (its handler is done with it) is no failure.
      onDone: (error) => {
        if (error && !(error instanceof CancelledError)) hooks.fail(error);
      },
    });
  }

  /** The holder's reply: its stream taken when it said streamed, else forgotten. A failure it carries is thrown. */
  response(reply: ReplyFrame, takesHolds: boolean): PipeResponse {
    let stream: Readable | undefined;
    if (reply.streamed && reply.kind !== ReplyKind.VALUE) throw new ProtocolError('the holder streamed a reply that is not a value');
    if (reply.streamed) stream = this.relay.accept(this.replyId, this.idleMs, reply.size || undefined);
    else this.relay.forget(this.replyId);
    try {
      const response = responseFromReply(reply, takesHolds, stream);
      this.#done = true;
      return response;
    } catch (error) {
      stream?.destroy();
      throw error;
    }
  }

  /** Nobody took the request: nothing was read of its body, which may go to the next holder. */
  nobody(): void {
    this.#done = true;
    this.relay.forget(this.replyId);
    if (this.uploadId !== undefined) this.relay.withdraw(this.uploadId);
  }

  /** The request failed: no reply stream comes, and the body (sent or not) is aborted. */
  failed(error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.relay.forget(this.replyId);
    if (this.uploadId !== undefined) this.relay.abort(this.uploadId, error);
  }
}

const guardedSources = new WeakSet<Readable>();

/**
 * Until its sender starts (the holder's first grant), nothing else listens to the body: a
 * caller that leaves then must not turn its error into a crash. The sender finds it destroyed.
 */
function guarded(source: Readable): Readable {
  if (!guardedSources.has(source)) {
    guardedSources.add(source);
    source.on('error', ignore);
  }
  return source;
}

function ignore(): void {}
