import {
  ForbiddenError,
  InvalidPathError,
  ReplyKind,
  RETURN_CODES,
  RpError,
  UnknownHandlerError,
  type EventFrame,
} from '@restpipe/wire';
import { encodeBody, encodeJson, eventBody } from './body.js';
import { findHandlerMethod, handlerMethodName, isVerb, validateNoun } from './dispatch.js';
import { envelopeBytes } from './envelope.js';
import { InboundContext, type InboundEnv } from './event-context.js';
import { HandlerReply, type EventHandler } from './event-handler.js';
import type { LazyAbort } from './lazy-abort.js';

export interface HandlerEnv extends InboundEnv {
  readonly handler: EventHandler;
  readonly exposeTracebacks: boolean;
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
}

/**
 * Runs one inbound event through authorize, dispatch and the user's method, and
 * turns whatever happens into reply fields. Never throws. A handler that answers
 * synchronously gets its reply synchronously: no promise is made for it.
 */
export function handleEvent(event: EventFrame, env: HandlerEnv, abort: LazyAbort): ReplyFields | Promise<ReplyFields> {
  try {
    const ctx = contextOf(event, env, abort);
    if (env.handler.authorize) return authorizeThenRun(ctx, event, env);
    return run(ctx, event, env);
  } catch (error) {
    return failed(error, env, '');
  }
}

async function authorizeThenRun(ctx: InboundContext, event: EventFrame, env: HandlerEnv): Promise<ReplyFields> {
  try {
    if (!(await env.handler.authorize!(ctx))) {
      throw new ForbiddenError(`not authorized: ${ctx.verb} /${ctx.noun.join('/')}`);
    }
  } catch (error) {
    return failed(error, env, '');
  }
  return run(ctx, event, env);
}

function run(ctx: InboundContext, event: EventFrame, env: HandlerEnv): ReplyFields | Promise<ReplyFields> {
  const handlerName = handlerMethodName(ctx.verb, ctx.noun);
  const method = findHandlerMethod(env.handler, handlerName);
  // A name the peer made up is not reported as a handler: metrics labelled by
  // handler must stay bounded by the methods that exist.
  if (!method) return failed(new UnknownHandlerError(`no handler for ${ctx.verb} /${ctx.noun.join('/')}`), env, '');
  try {
    const { data, mimeType } = event;
    const raw = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
    const result = method.call(env.handler, ctx, eventBody(mimeType, raw), ...event.args);
    if (!isThenable(result)) return valueReply(result, handlerName);
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
  return new InboundContext(env, event, event.verb, abort);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function valueReplyOrFailure(result: unknown, env: HandlerEnv, handlerName: string): ReplyFields {
  try {
    return valueReply(result, handlerName);
  } catch (error) {
    return failed(error, env, handlerName);
  }
}

function valueReply(result: unknown, handlerName: string): ReplyFields {
  const reply = HandlerReply.is(result);
  const body = reply ? encodeBody(result.data, result.options.mimeType) : encodeJson(result);
  const returnCode = reply ? (result.options.code ?? RETURN_CODES.OK) : RETURN_CODES.OK;
  return { mimeType: body.mimeType, data: body.data, returnCode, kind: ReplyKind.VALUE, status: 200, handlerName };
}

function failed(error: unknown, env: HandlerEnv, handlerName: string): ReplyFields {
  return { ...exceptionReply(error, env.exposeTracebacks), handlerName };
}

type Fields = Omit<ReplyFields, 'handlerName'>;

/** Our own errors keep their status and code; anything else the handler threw is 500 / 251. */
export function exceptionReply(error: unknown, exposeTracebacks: boolean): Fields {
  const own = error instanceof RpError;
  return {
    mimeType: 'application/json',
    data: envelopeBytes(error, exposeTracebacks),
    kind: ReplyKind.EXCEPTION,
    status: own ? error.status : 500,
    returnCode: own ? (error.returnCode ?? 0) : RETURN_CODES.HANDLER_THREW,
  };
}
