import {
  asBuffer,
  BodyTooLargeError,
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

/** A request as the holder's connection will send it: validated here, as any request is. */
export function encodeRequest(request: PipeRequest, timeoutMs: number, requestId: string): Buffer {
  const event = toEventFrame(request, 0, timeoutMs, requestId);
  if (event.streamed) throw new BodyTooLargeError('a streamed body does not cross cluster nodes: send it to the node its client is connected to');
  return frameBody({ kind: 'event', event });
}

/** The request a forwarded message carries; ProtocolError for what is no Event. */
export function decodeRequest(data: Uint8Array): PipeRequest {
  const frame = decodeFrame(asBuffer(data));
  if (frame.kind !== 'event') throw new ProtocolError(`a forwarded request must be an event, got ${frame.kind}`);
  return requestOf(frame.event);
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

/** A response, or the far side's failure, as the Reply frame it came in. */
export function outcomeOf(result: { response: PipeResponse } | { error: unknown }): Outcome {
  if ('response' in result && result.response.streamed) {
    result.response.stream.destroy();
    return outcomeOf({ error: new BodyTooLargeError('the handler answered with a stream, which does not cross cluster nodes') });
  }
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
  const held = response.held !== undefined;
  return {
    id: 0, kind: held ? ReplyKind.HELD : ReplyKind.VALUE, status: held ? 202 : 200, returnCode: response.returnCode,
    mimeType: response.mimeType, data: response.raw, replayed: response.replayed || undefined,
  };
}

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
