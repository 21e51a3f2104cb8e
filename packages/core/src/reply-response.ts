/**
 * A Reply from the peer, turned into the caller's response or the far side's
 * failure. This is the one place a sender trusts what a peer says about the
 * outcome: a peer can produce only the outcomes of the reply table (SPEC §4).
 * An exception Reply carries one of its failure statuses (`isExceptionStatus`:
 * any 4xx, 500, 502, 503, 504; absent means 500); a value Reply carries 200 (or
 * nothing) and a media type that can be a Content-Type. Anything else fails that
 * one request with 502 ProtocolError: never a redirect, an empty 204, or an HTTP
 * server's own 500 for status 99.
 */
import type { Readable } from 'node:stream';
import { asBuffer, isExceptionStatus, ProtocolError, ReplyKind, VALUE_STATUS, type ReplyFrame } from '@restpipe/wire';
import { parseBody } from './body.js';
import { failFromEnvelope } from './envelope.js';
import type { HeldInfo, PipeResponse } from './api-types.js';
import { heldInfoOf } from './holds/held-reply.js';
import { isMimeType } from './wire-values.js';
import { StreamOnly } from './streams/bodies.js';
import { readableOf } from './streams/stream-source.js';

/**
 * Resolves a reply into a response, or throws the far side's failure. `stream`: the
 * body of a streamed reply (SPEC §12), which the caller opened when the Reply said so.
 */
export function responseFromReply(reply: ReplyFrame, takesHolds = false, stream?: Readable): PipeResponse {
  const raw = asBuffer(reply.data);
  if (reply.kind === ReplyKind.EXCEPTION) {
    const status = reply.status || 500;
    if (!isExceptionStatus(status)) throw new ProtocolError(`the peer answered with status ${status}, which no failure has`);
    throw failFromEnvelope(raw, status, reply.returnCode, reply.replayed === true);
  }
  if (reply.kind === ReplyKind.HELD) {
    // Only a peer that was told we take holds (our Hello) may send one; its body is checked before anyone keeps it.
    if (!takesHolds) throw new ProtocolError('the peer answered HELD, though this node said it takes no holds');
    return new Response(0, 'application/json', raw, reply.replayed === true, heldInfoOf(raw));
  }
  if (reply.kind !== ReplyKind.VALUE) throw new ProtocolError(`the peer answered with reply kind ${String(reply.kind)}`);
  if (reply.status !== VALUE_STATUS && reply.status !== 0) {
    throw new ProtocolError(`the peer answered a value with status ${reply.status}`);
  }
  if (!isMimeType(reply.mimeType)) throw new ProtocolError('the peer answered with a media type that is no header value');
  if (stream) return new StreamedResponse(reply.returnCode, reply.mimeType, stream, reply.size);
  return new Response(reply.returnCode, reply.mimeType, raw, reply.replayed === true);
}

/** A reply's body is parsed when `data` is first read: a gateway that passes `raw` on never pays for it. */
class Response implements PipeResponse {
  #data: unknown;
  #parsed = false;
  #stream: Readable | undefined;

  constructor(
    readonly returnCode: number,
    readonly mimeType: string,
    readonly raw: Buffer,
    readonly replayed: boolean,
    readonly held?: HeldInfo,
  ) {}

  get stream(): Readable {
    return (this.#stream ??= readableOf(this.raw));
  }

  get data(): unknown {
    if (!this.#parsed) {
      this.#parsed = true;
      try {
        this.#data = parseBody(this.mimeType, this.raw);
      } catch {
        this.#data = this.raw;
      }
    }
    return this.#data;
  }
}

/** A reply the far handler streams (SPEC §12): only `stream` has its body. */
class StreamedResponse extends StreamOnly implements PipeResponse {
  readonly replayed = false;

  constructor(
    readonly returnCode: number,
    mimeType: string,
    stream: Readable,
    size: number | undefined,
  ) {
    super(mimeType, stream, size);
  }
}
