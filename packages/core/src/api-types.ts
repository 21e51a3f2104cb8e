/**
 * The types of the library API, in one leaf module: what handlers receive and
 * return, what `request()` takes and gives, and the verbs. It imports nothing, so
 * every module of core may use it without an import cycle.
 */
import type { Readable } from 'node:stream';

/**
 * The verbs an event may carry: the prefix of a handler's method name (`get_time`),
 * and in upper case the HTTP methods of a gateway's event routes (HEAD is a GET).
 */
export const VERBS = ['get', 'post', 'put', 'patch', 'delete'] as const;

export type Verb = (typeof VERBS)[number];

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
  /** The sender's idempotency key (a job's, or a caller's `Idempotency-Key`); `''` when none. */
  readonly idempotencyKey: string;
  /** Which delivery of a job this is: 1 for the first (and for any event not from a job). */
  readonly attempt: number;
}

export interface EventBody {
  /** Media type without parameters, lower case; `''` when none. */
  readonly mimeType: string;
  /** The whole body. Throws BodyIsStreamError for a streamed body (`streamed`): read `stream`. */
  readonly raw: Buffer;
  /** Parsed JSON for JSON types, a string for `text/*`, else the raw Buffer. Throws as `raw` does. */
  readonly data: unknown;
  /** The body as a Readable, for every event, small or streamed (SPEC §12). */
  readonly stream: Readable;
  /** The body came as a stream: it may be of any size, and only `stream` has it. */
  readonly streamed: boolean;
  /** Its length in bytes when known (always for a small body; for a streamed one when the sender said). */
  readonly size: number | undefined;
}

export interface ReplyOptions {
  /** A string that can be a Content-Type header, at most 1024 characters. */
  mimeType?: string;
  /** Return code sent as `X-Event-Return-Code`: a whole number from 0 to 2^32-1. @default 0 */
  code?: number;
}

/** `reply.stream(source, options)`: a streamed reply's media type, code, and length if known. */
export interface StreamReplyOptions extends ReplyOptions {
  /** The body's length in bytes: the gateway then answers with Content-Length (and fails the response if it is not). */
  size?: number;
}

/** A request to the far side, as the library API takes it. */
export interface PipeRequest {
  /** @default 'get' */
  verb?: Verb;
  /** `'time/utc'` or `['time', 'utc']`. */
  noun: string | readonly string[];
  args?: readonly string[];
  query?: QueryValues;
  /**
   * Buffer (bytes), string (text) or any JSON value; or a Readable or AsyncIterable of
   * Buffers, sent as a stream (SPEC §12) of any size.
   */
  body?: unknown;
  /** A streamed body's length in bytes, when known: the far handler sees it as `body.size`. */
  size?: number;
  /** Overrides the media type inferred from `body`. */
  mimeType?: string;
  /** Reply deadline; the connection's `timeoutMs` when absent. */
  timeoutMs?: number;
  /** Correlation id carried to the far side and its logs. */
  requestId?: string;
  /** Cancels the request: the far side gets Cancel. */
  signal?: AbortSignal;
  /**
   * Called once, as the request is sent, with a function that cancels it (the far
   * side gets Cancel). The same as `signal` without the cost of an AbortController
   * per request; the gateways use it to cancel when their HTTP caller hangs up.
   */
  onCancellable?: (cancel: () => void) => void;
  /**
   * The receiving node runs the handler at most once for this key (per sending node), keeps
   * its reply and answers a repeat with it (`replayed`). The receiver needs a data directory.
   */
  idempotencyKey?: string;
  /** Which delivery this is, for `ctx.attempt`: set by job delivery. @default 1 */
  attempt?: number;
  /**
   * Set by job delivery alone: the job waits on this hold of the receiver's (SPEC §9) and
   * asks for its outcome. No handler runs for it.
   */
  hold?: string;
}

/** What the receiver of a held event (SPEC §9) said about it. */
export interface HeldInfo {
  readonly hold: string;
  readonly reason: string;
  /** ISO 8601. */
  readonly expiresAt: string;
}

export interface PipeResponse {
  readonly returnCode: number;
  readonly mimeType: string;
  /** The whole body. Throws BodyIsStreamError for a streamed reply (`streamed`): read `stream`. */
  readonly raw: Buffer;
  /** Parsed by media type, as EventBody.data, when first read; the raw Buffer if it does not parse. Throws as `raw` does. */
  readonly data: unknown;
  /** The body as a Readable, small or streamed. A streamed one must be read or destroyed: it holds its stream open. */
  readonly stream: Readable;
  /** The far handler answered with a stream (SPEC §12). */
  readonly streamed?: boolean;
  /** A streamed reply's length in bytes, when the far handler said. */
  readonly size?: number | undefined;
  /** The far side answered from its record of the request's idempotency key: the handler did not run now. */
  readonly replayed?: boolean;
  /** The far side holds the event for approval (SPEC §9): nothing ran yet. */
  readonly held?: HeldInfo;
  /** With `held`: the job of this node that waits on the hold (`/_rp/jobs/ID`). */
  readonly job?: string;
}

/** A hold, as `GET /_rp/holds/ID` shows it (SPEC §9) and `onHold` and `authResponse` are given it. */
export interface HoldView {
  readonly hold: string;
  readonly status: 'pending' | 'approved' | 'denied' | 'expired';
  /** The sending peer's name. */
  readonly peer: string;
  readonly verb: string;
  /** The noun's segments joined by `/`: `service/restart`. */
  readonly noun: string;
  readonly args: readonly string[];
  readonly query: QueryValues;
  /** sha256 (hex) of the verb, noun, args, query and body held: what a decision applies to. */
  readonly digest: string;
  readonly reason: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  /** The key id of a signed request (SPEC §10), `api-key`, or `local`; null while pending, and for an expiry. */
  readonly decidedBy: string | null;
  readonly decidedAt: string | null;
  readonly decisionReason: string | null;
  readonly requestId: string;
  /** Every transition, oldest first. */
  readonly history: ReadonlyArray<{ readonly status: string; readonly at: string; readonly by: string | null; readonly reason: string | null }>;
}
