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
import { HandlerReply, type EventContext, type EventHandler, type Peer, type PipeLink } from './event-handler.js';
import type { LazyAbort } from './lazy-abort.js';
import { fromQueryParams } from './request.js';

export interface InboundEnv {
  readonly handler: EventHandler;
  readonly peer: Peer;
  /** `ctx.signal`, made on first use. */
  readonly abort: LazyAbort;
  readonly pipe: PipeLink;
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
 * turns whatever happens into reply fields. Never throws.
 */
export async function handleEvent(event: EventFrame, env: InboundEnv): Promise<ReplyFields> {
  let handlerName = '';
  try {
    const ctx = contextOf(event, env);
    validateNoun(ctx.noun);
    if (env.handler.authorize && !(await env.handler.authorize(ctx))) {
      throw new ForbiddenError(`not authorized: ${ctx.verb} /${ctx.noun.join('/')}`);
    }
    handlerName = handlerMethodName(ctx.verb, ctx.noun);
    const method = findHandlerMethod(env.handler, handlerName);
    if (!method) throw new UnknownHandlerError(`no handler for ${ctx.verb} /${ctx.noun.join('/')}`);
    const raw = Buffer.from(event.data.buffer, event.data.byteOffset, event.data.length);
    const result = await method.call(env.handler, ctx, eventBody(event.mimeType, raw), ...ctx.args);
    return valueReply(result, handlerName);
  } catch (error) {
    return { ...exceptionReply(error, env.exposeTracebacks), handlerName };
  }
}

function contextOf(event: EventFrame, env: InboundEnv): EventContext {
  if (!isVerb(event.verb)) throw new InvalidPathError(`unknown verb ${JSON.stringify(event.verb)}`);
  const { abort } = env;
  return {
    peer: env.peer,
    requestId: event.requestId,
    query: fromQueryParams(event.query),
    verb: event.verb,
    noun: event.noun,
    args: event.args,
    get signal() {
      return abort.signal;
    },
    pipe: env.pipe,
  };
}

type Fields = Omit<ReplyFields, 'handlerName'>;

function valueReply(result: unknown, handlerName: string): ReplyFields {
  const reply = HandlerReply.is(result);
  const body = reply ? encodeBody(result.data, result.options.mimeType) : encodeJson(result);
  const returnCode = reply ? (result.options.code ?? RETURN_CODES.OK) : RETURN_CODES.OK;
  return { mimeType: body.mimeType, data: body.data, returnCode, kind: ReplyKind.VALUE, status: 200, handlerName };
}

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
