import { InvalidPathError, ReplyKind, type EventFrame, type QueryParam, type ReplyFrame } from '@restpipe/wire';
import { encodeBody, parseBody } from './body.js';
import { failFromEnvelope } from './envelope.js';
import { isVerb, validateNoun } from './dispatch.js';
import type { QueryValues, Verb } from './event-handler.js';

/** A request to the far side, as the library API takes it. */
export interface PipeRequest {
  /** @default 'get' */
  verb?: Verb;
  /** `'time/utc'` or `['time', 'utc']`. */
  noun: string | readonly string[];
  args?: readonly string[];
  query?: QueryValues;
  /** Buffer (bytes), string (text) or any JSON value. */
  body?: unknown;
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
}

export interface PipeResponse {
  readonly returnCode: number;
  readonly mimeType: string;
  readonly raw: Buffer;
  /** Parsed by media type, as EventBody.data, when first read; the raw Buffer if it does not parse. */
  readonly data: unknown;
}

/** Nouns given as strings, split and validated once each; frames never change their noun. */
const checkedNouns = new Map<string, string[]>();
const CHECKED_NOUNS_MAX = 1024;

function checkedNoun(noun: string | readonly string[]): string[] {
  if (typeof noun !== 'string') {
    const segments = [...noun];
    validateNoun(segments);
    return segments;
  }
  let segments = checkedNouns.get(noun);
  if (!segments) {
    segments = noun.split('/');
    validateNoun(segments);
    if (checkedNouns.size >= CHECKED_NOUNS_MAX) checkedNouns.clear();
    checkedNouns.set(noun, segments);
  }
  return segments;
}

// Shared by every event without args or query; frames are never changed after they are made.
const NO_ARGS: string[] = Object.freeze([]) as unknown as string[];
const NO_QUERY: QueryParam[] = Object.freeze([]) as unknown as QueryParam[];

/** Validates a request and turns it into an Event frame (the id is the caller's). */
export function toEventFrame(request: PipeRequest, id: number, timeoutMs: number, requestId: string): EventFrame {
  const verb = request.verb ?? 'get';
  if (!isVerb(verb)) throw new InvalidPathError(`unknown verb ${JSON.stringify(verb)}`);
  const noun = checkedNoun(request.noun);
  const body = encodeBody(request.body, request.mimeType);
  return {
    id,
    verb,
    noun,
    args: request.args && request.args.length > 0 ? [...request.args] : NO_ARGS,
    query: request.query ? toQueryParams(request.query) : NO_QUERY,
    mimeType: body.mimeType,
    data: body.data,
    timeoutMs,
    requestId,
  };
}

export function toQueryParams(query: QueryValues | undefined): QueryParam[] {
  if (!query) return [];
  return Object.entries(query).map(([key, value]) => ({ key, values: Array.isArray(value) ? value : [value] }));
}

export function fromQueryParams(params: readonly QueryParam[]): QueryValues {
  const query: QueryValues = Object.create(null) as QueryValues;
  for (const { key, values } of params) {
    query[key] = values.length === 1 ? values[0]! : [...values];
  }
  return query;
}

/** Resolves a reply into a response, or throws the far side's failure. */
export function responseFromReply(reply: ReplyFrame): PipeResponse {
  const data = reply.data;
  const raw = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length);
  if (reply.kind === ReplyKind.EXCEPTION) {
    throw failFromEnvelope(raw, reply.status || 500, reply.returnCode);
  }
  return new Response(reply.returnCode, reply.mimeType, raw);
}

/** A reply's body is parsed when `data` is first read: a gateway that passes `raw` on never pays for it. */
class Response implements PipeResponse {
  #data: unknown;
  #parsed = false;

  constructor(
    readonly returnCode: number,
    readonly mimeType: string,
    readonly raw: Buffer,
  ) {}

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
