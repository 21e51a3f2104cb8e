import type { EventContext, HoldView, Peer, ReplyOptions, StreamReplyOptions } from './api-types.js';
import { isStreamSource, type StreamSource } from './streams/stream-source.js';
import type { HoldRequest } from './holds/hold-request.js';
import { InvalidArgumentError } from '@restpipe/wire';
import { checkReplyOptions, checkStreamSize } from './wire-values.js';

export type { EventBody, EventContext, Peer, PipeLink, QueryValues, ReplyOptions, StreamReplyOptions, Verb } from './api-types.js';
export type { StreamSource } from './streams/stream-source.js';

/** Marks EventHandler.prototype: dispatch never looks at or above it. */
export const HANDLER_BASE = Symbol.for('restpipe.EventHandler');

/**
 * Base class for user handlers. Methods named `verb_noun_parts` answer events;
 * the optional hooks below are never callable as events.
 */
export class EventHandler {}
Object.defineProperty(EventHandler.prototype, HANDLER_BASE, { value: true });

export interface EventHandler {
  /**
   * Return false to refuse an event with 403 ForbiddenError (return code 252), or
   * `hold({ reason, ttlMs })` to keep it for a person's approval (SPEC §9).
   */
  authorize?(ctx: EventContext): boolean | HoldRequest | Promise<boolean | HoldRequest>;
  /**
   * Once when an event is held (send the email, page someone), after the hold is on disk;
   * again after a restart if the node died before it returned. A throw is logged.
   */
  onHold?(hold: HoldView, ctx: EventContext): void | Promise<void>;
  /** When a person approves a hold, before the handler runs: false (or a throw) denies it. */
  authResponse?(ctx: EventContext, hold: HoldView): boolean | Promise<boolean>;
  onConnect?(peer: Peer): void | Promise<void>;
  /**
   * Once per connection that onConnect was called for. When a client reconnects
   * under the same name (`duplicate_identity`), the old connection's onDisconnect
   * is called before the new one's onConnect (as the `disconnect` and `connect`
   * events are), while the old socket may still be finishing its events. The
   * hooks are called in that order, not awaited one after the other.
   */
  onDisconnect?(peer: Peer, reason: string): void | Promise<void>;
  /** Once per process, before the first connection. */
  init?(): void | Promise<void>;
  /** Once per process, at shutdown. */
  close?(): void | Promise<void>;
}

const REPLY_MARK = Symbol.for('restpipe.Reply');

/** A handler result with an explicit media type and return code. */
export class HandlerReply {
  readonly [REPLY_MARK] = true;
  constructor(
    readonly data: unknown,
    readonly options: StreamReplyOptions,
  ) {}

  static is(value: unknown): value is HandlerReply {
    return typeof value === 'object' && value !== null && REPLY_MARK in value;
  }
}

/**
 * Answers with `data` as given (Buffer, string or JSON value) and an explicit code.
 * Throws InvalidArgumentError for a code or media type the wire cannot carry: the
 * caller then gets a 500 (return code 251), as for any handler failure.
 *
 * `reply.stream(source, {mimeType, code, size})` answers with a stream (SPEC §12):
 * a Readable or an AsyncIterable of Buffers, of any size; with `size`, the caller's
 * gateway sends Content-Length.
 */
export const reply = Object.assign(
  function reply(data: unknown, options: ReplyOptions = {}): HandlerReply {
    checkReplyOptions(options);
    return new HandlerReply(data, options);
  },
  {
    stream(source: StreamSource, options: StreamReplyOptions = {}): HandlerReply {
      if (!isStreamSource(source)) throw new InvalidArgumentError('reply.stream() takes a Readable or an AsyncIterable of Buffers');
      checkReplyOptions(options);
      checkStreamSize(options.size);
      return new HandlerReply(source, options);
    },
  },
);
