import {
  asBuffer,
  decodeFrame,
  ERROR_CLASSES,
  FrameWriter,
  fromQueryParams,
  GatewayError,
  LENGTH_PREFIX_BYTES,
  PipeFailError,
  ProtocolError,
  relayedEnvelope,
  ReplyKind,
  RpError,
  toEventFrame,
  type EventFrame,
  type Frame,
  type PipeRequest,
  type PipeResponse,
  type ReplyFrame,
  type Verb,
} from '@restpipe/core';

/**
 * The hot codec the pipe writes with (protobufjs is its test oracle, in wire's differential
 * test), kept for the process: its memos of verbs and media types last. Pure and synchronous,
 * so one writer serves every encode.
 */
const writer = new FrameWriter();

/** A frame's body without its length prefix: what a NATS message carries. */
function frameBody(frame: Frame): Buffer {
  writer.append(frame);
  const chunks = writer.take();
  return (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).subarray(LENGTH_PREFIX_BYTES);
}

/**
 * A request as the holder's connection will send it: validated here, as any request is. A
 * streamed body (SPEC §12) is marked in the Event (streamed, size); its bytes follow on the
 * stream subjects (relay-streams.ts).
 */
export function encodeRequest(request: PipeRequest, timeoutMs: number, requestId: string): Buffer {
  return frameBody({ kind: 'event', event: toEventFrame(request, 0, timeoutMs, requestId) });
}

/** A forwarded request, and whether its body follows as a stream (of `size` bytes, when known). */
export interface ForwardedRequest {
  readonly request: PipeRequest;
  readonly streamed: boolean;
  readonly size: number | undefined;
}

/** The request a forwarded message carries; ProtocolError for what is no Event. */
export function decodeForwarded(data: Uint8Array): ForwardedRequest {
  const frame = decodeFrame(asBuffer(data));
  if (frame.kind !== 'event') throw new ProtocolError(`a forwarded request must be an event, got ${frame.kind}`);
  return { request: requestOf(frame.event), streamed: frame.event.streamed === true, size: frame.event.size || undefined };
}

/** A request whose body came whole (a broadcast's); ProtocolError for a streamed one, whose bytes nothing carries here. */
export function decodeRequest(data: Uint8Array): PipeRequest {
  const { request, streamed } = decodeForwarded(data);
  if (streamed) throw new ProtocolError('this request cannot carry a streamed body');
  return request;
}

function requestOf(event: EventFrame): PipeRequest {
  return {
    verb: event.verb as Verb,
    noun: event.noun,
    args: event.args,
    query: fromQueryParams(event.query),
    body: asBuffer(event.data),
    mimeType: event.mimeType,
    timeoutMs: event.timeoutMs,
    requestId: event.requestId,
    ...(event.idempotencyKey === undefined ? {} : { idempotencyKey: event.idempotencyKey }),
    ...(event.attempt === undefined ? {} : { attempt: event.attempt }),
    ...(event.hold === undefined ? {} : { hold: event.hold }),
  };
}

/** How an outcome travels: a Reply frame (as the client sent it), or one of the holder's own failures. */
export type Outcome = { reply: Buffer } | { error: { className: string; message: string } };

/**
 * A response, or the far side's failure, as the Reply frame it came in. A streamed response
 * becomes a Reply marked streamed (with its size): the caller sends its body after it.
 */
export function outcomeOf(result: { response: PipeResponse } | { error: unknown }): Outcome {
  if ('response' in result) return { reply: frameBody({ kind: 'reply', reply: replyOf(result.response) }) };
  const error = result.error;
  if (error instanceof PipeFailError) {
    const reply: ReplyFrame = {
      id: 0, kind: ReplyKind.EXCEPTION, status: error.status, returnCode: error.returnCode ?? 0, mimeType: 'application/json',
      data: Buffer.from(JSON.stringify(relayedEnvelope(error))), replayed: error.replayed || undefined,
    };
    return { reply: frameBody({ kind: 'reply', reply }) };
  }
  const className = error instanceof RpError ? error.name : 'GatewayError';
  return { error: { className, message: error instanceof Error ? error.message : String(error) } };
}

function replyOf(response: PipeResponse): ReplyFrame {
  if (response.streamed) {
    return {
      id: 0, kind: ReplyKind.VALUE, status: 200, returnCode: response.returnCode, mimeType: response.mimeType,
      data: EMPTY, streamed: true, size: response.size || undefined,
    };
  }
  const held = response.held !== undefined;
  return {
    id: 0, kind: held ? ReplyKind.HELD : ReplyKind.VALUE, status: held ? 202 : 200, returnCode: response.returnCode,
    mimeType: response.mimeType, data: response.raw, replayed: response.replayed || undefined,
  };
}

const EMPTY = Buffer.alloc(0);

/** Failures that a holder may send back by class name: each takes just a message. */
const REBUILT: ReadonlyMap<string, new (message: string) => RpError> = new Map(
  Object.entries(ERROR_CLASSES)
    .filter(([name]) => !['RpError', 'PipeFailError', 'HttpError', 'FrameTooLargeError', 'GoawayError'].includes(name))
    .map(([name, cls]) => [name, cls as unknown as new (message: string) => RpError]),
);

/** The holder's failure as this node raises it: the same class, so that jobs treat it the same. */
export function errorOf(className: string, message: string): RpError {
  const cls = REBUILT.get(className);
  const text = message.slice(0, 1000);
  return cls ? new cls(text) : new GatewayError(`the holder failed: ${text}`);
}

/** The Reply frame a holder sent; ProtocolError for anything else. */
export function decodeReply(data: Uint8Array): ReplyFrame {
  const frame = decodeFrame(asBuffer(data));
  if (frame.kind !== 'reply') throw new ProtocolError(`a forwarded reply must be a reply, got ${frame.kind}`);
  return frame.reply;
}
