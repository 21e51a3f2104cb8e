import type { PipeRequest, PipeResponse } from './request.js';

export type Verb = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** The peer at the other end of the connection an event came in on. */
export interface Peer {
  /** Client name from its verified certificate; `server` for the server. */
  readonly name: string;
  readonly address: string;
}

/** Sends events back the other way, over the connection the event came in on. */
export interface PipeLink {
  request(request: PipeRequest): Promise<PipeResponse>;
}

export type QueryValues = Record<string, string | string[]>;

export interface EventContext {
  readonly peer: Peer;
  readonly requestId: string;
  readonly query: QueryValues;
  readonly verb: Verb;
  readonly noun: readonly string[];
  readonly args: readonly string[];
  /** Fires on the deadline, on Cancel from the sender, and on disconnect. */
  readonly signal: AbortSignal;
  readonly pipe: PipeLink;
}

export interface EventBody {
  /** Media type without parameters, lower case; `''` when none. */
  readonly mimeType: string;
  readonly raw: Buffer;
  /** Parsed JSON for JSON types, a string for `text/*`, else the raw Buffer. */
  readonly data: unknown;
}

/** Marks EventHandler.prototype: dispatch never looks at or above it. */
export const HANDLER_BASE = Symbol.for('restpipe.EventHandler');

/**
 * Base class for user handlers. Methods named `verb_noun_parts` answer events;
 * the optional hooks below are never callable as events.
 */
export class EventHandler {}
Object.defineProperty(EventHandler.prototype, HANDLER_BASE, { value: true });

export interface EventHandler {
  /** Return false to refuse an event with 403 ForbiddenError (return code 252). */
  authorize?(ctx: EventContext): boolean | Promise<boolean>;
  onConnect?(peer: Peer): void | Promise<void>;
  onDisconnect?(peer: Peer, reason: string): void | Promise<void>;
  /** Once per process, before the first connection. */
  init?(): void | Promise<void>;
  /** Once per process, at shutdown. */
  close?(): void | Promise<void>;
}

export interface ReplyOptions {
  mimeType?: string;
  /** Return code sent as `X-Event-Return-Code`. @default 0 */
  code?: number;
}

const REPLY_MARK = Symbol.for('restpipe.Reply');

/** A handler result with an explicit media type and return code. */
export class HandlerReply {
  readonly [REPLY_MARK] = true;
  constructor(
    readonly data: unknown,
    readonly options: ReplyOptions,
  ) {}

  static is(value: unknown): value is HandlerReply {
    return typeof value === 'object' && value !== null && REPLY_MARK in value;
  }
}

/** Answers with `data` as given (Buffer, string or JSON value) and an explicit code. */
export function reply(data: unknown, options: ReplyOptions = {}): HandlerReply {
  return new HandlerReply(data, options);
}
