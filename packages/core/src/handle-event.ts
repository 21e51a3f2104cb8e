import type { Readable } from 'node:stream';
import {
  asBuffer,
  BodyTooLargeError,
  ForbiddenError,
  InvalidPathError,
  isExceptionStatus,
  NotEnabledError,
  ReplyKind,
  RETURN_CODES,
  RpError,
  UnknownHandlerError,
  type EventFrame,
} from '@restpipe/wire';
import { BINARY_MIME, encodeBody, encodeJson, essence, eventBody } from './body.js';
import { findHandlerMethod, handlerMethodName, isVerb, validateNoun } from './dispatch.js';
import { envelopeBytes, safely } from './envelope.js';
import { InboundContext, type InboundEnv } from './event-context.js';
import { HandlerReply, type EventHandler } from './event-handler.js';
import { StreamedBody } from './streams/bodies.js';
import { isStreamSource, toReadable, type StreamSource } from './streams/stream-source.js';
import type { LazyAbort } from './lazy-abort.js';
import type { IdempotencyGate } from './durable/idempotency-gate.js';
import type { HoldPort } from './holds/hold-port.js';
import { isHoldRequest, type HoldRequest } from './holds/hold-request.js';
import { checkFieldsSize, checkReplyBytes, checkReplyOptions, checkStreamSize, isReturnCode } from './wire-values.js';

export interface HandlerEnv extends InboundEnv {
  readonly handler: EventHandler;
  readonly exposeTracebacks: boolean;
  /**
   * The largest reply body the peer takes (its max-event-bytes): a bigger one would
   * close the connection at the peer, so it fails that one request instead. None: unchecked.
   */
  readonly maxReplyBytes?: number | undefined;
  /** The node's idempotency records (SPEC §8); none with `--data-dir off`. */
  readonly idempotency?: IdempotencyGate | undefined;
  /** The node's holds (SPEC §9); none with `--data-dir off`. */
  readonly holds?: HoldPort | undefined;
  /** The peer's Hello says it can wait for a held event. */
  readonly peerTakesHolds?: boolean | undefined;
  /** The peer's Hello says it takes streams (SPEC §12): a handler may answer with one. */
  readonly peerTakesStreams?: boolean | undefined;
}

/** An event's body that comes as a stream (SPEC §12), and its length if the sender said. */
export interface InboundStream {
  readonly readable: Readable;
  readonly size: number | undefined;
}

/** A reply without its id: what the connection sends back for one event. */
export interface ReplyFields {
  returnCode: number;
  mimeType: string;
  data: Buffer;
  kind: ReplyKind;
  status: number;
  /** `get_time`, or `''` when the event never reached a method. */
  handlerName: string;
  /** Answered from the idempotency record: the handler did not run now. */
  replayed?: boolean;
  /** Nothing ran and nothing was kept (a hold the store could not keep): no outcome to record for a key. */
  transient?: boolean;
  /** The handler answered with a stream (SPEC §12): `data` is empty, the body is read from here. */
  stream?: Readable;
  /** The streamed body's length, when the handler said. */
  size?: number | undefined;
  /** What failed, for the call log (SPEC §13): the error's message, when this is a failure. */
  error?: string | undefined;
}

/**
 * Runs one inbound event through authorize, dispatch and the user's method, and
 * turns whatever happens into reply fields. Never throws. A handler that answers
 * synchronously gets its reply synchronously: no promise is made for it.
 */
export function handleEvent(event: EventFrame, env: HandlerEnv, abort: LazyAbort, stream?: InboundStream): ReplyFields | Promise<ReplyFields> {
  try {
    const ctx = contextOf(event, env, abort);
    if (env.handler.authorize) return authorizeThenRun(ctx, event, env, stream);
    return run(ctx, event, env, stream);
  } catch (error) {
    return failed(error, env, '');
  }
}

/** The event of an approved hold (SPEC §9): authorize already ruled, so straight to the handler. Never throws. */
export function handleApproved(event: EventFrame, env: HandlerEnv, abort: LazyAbort): ReplyFields | Promise<ReplyFields> {
  try {
    return run(contextOf(event, env, abort), event, env);
  } catch (error) {
    return failed(error, env, '');
  }
}

/**
 * A job's word about a hold of ours (Event.hold): a `get` asks for its outcome (or HELD
 * again), a `delete` withdraws it (the job was cancelled). Never rejects.
 */
export async function collectHold(event: EventFrame, env: HandlerEnv): Promise<ReplyFields> {
  if (!env.holds) return failed(new NotEnabledError('this node keeps no holds (--data-dir off)'), env, '');
  const answer = event.verb === 'delete'
    ? await env.holds.withdraw(event.hold!, env.peer.name)
    : await env.holds.collect(event.hold!, env.peer.name, env.maxReplyBytes);
  return { ...answer, handlerName: '' };
}

async function authorizeThenRun(ctx: InboundContext, event: EventFrame, env: HandlerEnv, stream: InboundStream | undefined): Promise<ReplyFields> {
  try {
    const verdict: unknown = await env.handler.authorize!(ctx);
    if (isHoldRequest(verdict)) {
      if (stream) throw new BodyTooLargeError('this event needs approval, and a held event\'s body must fit in --max-event-bytes: it came as a stream');
      return await holdEvent(ctx, event, env, verdict);
    }
    if (!verdict) throw new ForbiddenError(`not authorized: ${ctx.verb} /${ctx.noun.join('/')}`);
  } catch (error) {
    return failed(error, env, '');
  }
  return run(ctx, event, env, stream);
}

/** `authorize` asked for approval: the event is kept as a hold, if both nodes can keep one. */
async function holdEvent(ctx: InboundContext, event: EventFrame, env: HandlerEnv, request: HoldRequest): Promise<ReplyFields> {
  if (!env.holds) throw new NotEnabledError('this event needs approval, and this node keeps no holds (--data-dir off)');
  if (!env.peerTakesHolds) {
    throw new NotEnabledError('this event needs approval, and the sending node cannot wait for one (it runs with --data-dir off, or is an older restpipe)');
  }
  return { ...(await env.holds.make(event, env.peer, request, ctx)), handlerName: '' };
}

function run(ctx: InboundContext, event: EventFrame, env: HandlerEnv, stream?: InboundStream): ReplyFields | Promise<ReplyFields> {
  const handlerName = handlerMethodName(ctx.verb, ctx.noun);
  const method = findHandlerMethod(env.handler, handlerName);
  // A name the peer made up is not reported as a handler: metrics labelled by
  // handler must stay bounded by the methods that exist.
  if (!method) return failed(new UnknownHandlerError(`no handler for ${ctx.verb} /${ctx.noun.join('/')}`), env, '');
  try {
    const body = stream ? new StreamedBody(essence(event.mimeType), stream.readable, stream.size) : eventBody(event.mimeType, asBuffer(event.data));
    const result = method.call(env.handler, ctx, body, ...event.args);
    if (!isThenable(result)) return valueReply(result, env, handlerName);
    return Promise.resolve(result).then(
      (value) => valueReplyOrFailure(value, env, handlerName),
      (error: unknown) => failed(error, env, handlerName),
    );
  } catch (error) {
    return failed(error, env, handlerName);
  }
}

function contextOf(event: EventFrame, env: HandlerEnv, abort: LazyAbort): InboundContext {
  if (!isVerb(event.verb)) throw new InvalidPathError(`unknown verb ${JSON.stringify(event.verb)}`);
  validateNoun(event.noun);
  // The limit a sender keeps to (request.ts); a peer that does not gets 400, and its args never reach a handler, a hold or a log.
  checkFieldsSize(event);
  return new InboundContext(env, event, event.verb, abort);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function valueReplyOrFailure(result: unknown, env: HandlerEnv, handlerName: string): ReplyFields {
  try {
    return valueReply(result, env, handlerName);
  } catch (error) {
    return failed(error, env, handlerName);
  }
}

/** A handler's stream (SPEC §12), as reply fields: to a peer that takes none, 413 and the source destroyed. */
function streamReply(source: StreamSource, mimeType: string | undefined, code: number, size: number | undefined, env: HandlerEnv, handlerName: string): ReplyFields {
  const readable = toReadable(source);
  if (!env.peerTakesStreams) {
    readable.destroy();
    throw new BodyTooLargeError('the handler answered with a stream, and the caller\'s node is an older restpipe that takes no streams');
  }
  return { mimeType: mimeType ?? BINARY_MIME, data: EMPTY, returnCode: code, kind: ReplyKind.VALUE, status: 200, handlerName, stream: readable, size };
}

const EMPTY = Buffer.alloc(0);

/** What the handler returned, as reply fields; throws InvalidArgumentError for a reply the wire cannot carry. */
function valueReply(result: unknown, env: HandlerEnv, handlerName: string): ReplyFields {
  if (isStreamSource(result)) return streamReply(result, undefined, RETURN_CODES.OK, undefined, env, handlerName);
  if (!HandlerReply.is(result)) {
    const body = encodeJson(result);
    checkReplyBytes(body.data.length, env.maxReplyBytes);
    return { mimeType: body.mimeType, data: body.data, returnCode: RETURN_CODES.OK, kind: ReplyKind.VALUE, status: 200, handlerName };
  }
  // Checked again here: the reply may come from another copy of restpipe, or be hand-made.
  const { mimeType, code } = checkReplyOptions(result.options);
  if (isStreamSource(result.data)) return streamReply(result.data, mimeType, code, checkStreamSize(result.options.size), env, handlerName);
  const body = encodeBody(result.data, mimeType);
  checkReplyBytes(body.data.length, env.maxReplyBytes);
  return { mimeType: body.mimeType, data: body.data, returnCode: code, kind: ReplyKind.VALUE, status: 200, handlerName };
}

function failed(error: unknown, env: HandlerEnv, handlerName: string): ReplyFields {
  return { ...exceptionReply(error, env.exposeTracebacks), handlerName, error: messageOf(error) };
}

/** A thrown value's message, as the call log shows it. */
export function messageOf(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    // A thrown value that throws when looked at (a Proxy, a broken toString).
    return 'a value that could not be printed was thrown';
  }
}

type Fields = Omit<ReplyFields, 'handlerName'>;

/**
 * restpipe's errors (from any copy of it: `instanceof` checks a brand) keep their
 * status and return code; anything else the handler threw is 500 / 251. A status
 * no failure may have (see isExceptionStatus) is 500, and every 500 carries 251
 * unless the error names a return code of its own.
 */
export function exceptionReply(error: unknown, exposeTracebacks: boolean): Fields {
  // Never throws: `instanceof` and each field read may run a handler's getter or Proxy trap.
  const own = safely(() => error instanceof RpError, false);
  const declared: unknown = own ? safely(() => (error as RpError).status, undefined) : undefined;
  const status = isExceptionStatus(declared) ? declared : 500;
  return {
    mimeType: 'application/json',
    data: envelopeBytes(error, exposeTracebacks),
    kind: ReplyKind.EXCEPTION,
    status,
    returnCode: own ? ownReturnCode(safely(() => (error as RpError).returnCode, undefined), status) : RETURN_CODES.HANDLER_THREW,
  };
}

function ownReturnCode(returnCode: unknown, status: number): number {
  if (isReturnCode(returnCode)) return returnCode;
  return status === 500 ? RETURN_CODES.HANDLER_THREW : RETURN_CODES.OK;
}
