import { InvalidArgumentError, InvalidPathError, type EventFrame, type QueryParam } from '@restpipe/wire';
import { BINARY_MIME, encodeBody } from './body.js';
import { isStreamSource } from './streams/stream-source.js';
import { isVerb, validateNoun } from './dispatch.js';
import { checkAttempt, checkIdempotencyKey } from './idempotency-key.js';
import { isHoldId } from './holds/held-reply.js';
import type { PipeRequest, QueryValues } from './api-types.js';
import { checkArgs, checkCancellation, checkStreamSize, checkedQueryParams, checkFieldsSize, checkMimeType, checkRequestId, checkTimeoutMs } from './wire-values.js';

export { responseFromReply } from './reply-response.js';
export type { PipeRequest, PipeResponse } from './api-types.js';

/** Nouns given as strings, split and validated once each; frames never change their noun. */
const checkedNouns = new Map<string, string[]>();
const CHECKED_NOUNS_MAX = 1024;

function checkedNoun(noun: string | readonly string[]): string[] {
  if (typeof noun !== 'string') {
    if (!Array.isArray(noun)) throw new InvalidPathError('noun must be a string or an array of strings');
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
const EMPTY = Buffer.alloc(0);

/**
 * Validates a request and turns it into an Event frame (the id is the caller's).
 * Every value bound for the wire is checked here: a bad one throws (InvalidPathError
 * for the verb and noun, InvalidArgumentError for the rest) and nothing is sent.
 */
export function toEventFrame(request: PipeRequest, id: number, timeoutMs: number, requestId: string): EventFrame {
  if (typeof request !== 'object' || request === null) throw new InvalidArgumentError('a request must be an object');
  const verb = request.verb ?? 'get';
  if (!isVerb(verb)) throw new InvalidPathError(`unknown verb ${JSON.stringify(verb)}`);
  const noun = checkedNoun(request.noun);
  const args = checkArgs(request.args);
  const query = checkedQueryParams(request.query);
  const streamed = isStreamSource(request.body);
  const mimeType = checkMimeType(request.mimeType);
  const body = streamed ? { mimeType: mimeType ?? BINARY_MIME, data: EMPTY } : encodeBody(request.body, mimeType);
  const event: EventFrame = {
    id,
    verb,
    noun,
    args: args && args.length > 0 ? [...args] : NO_ARGS,
    query: query && query.length > 0 ? query : NO_QUERY,
    mimeType: body.mimeType,
    data: body.data,
    timeoutMs: checkTimeoutMs(timeoutMs),
    requestId: checkRequestId(requestId),
  };
  if (streamed) {
    // The body follows as StreamData frames (SPEC §12); the caller's connection sends it.
    event.streamed = true;
    const size = checkStreamSize(request.size);
    if (size) event.size = size;
  }
  // Only when given: the frames of plain requests keep their shape.
  const idempotencyKey = checkIdempotencyKey(request.idempotencyKey);
  if (idempotencyKey !== undefined) event.idempotencyKey = idempotencyKey;
  const attempt = checkAttempt(request.attempt);
  if (attempt !== undefined) event.attempt = attempt;
  if (request.hold !== undefined) {
    if (!isHoldId(request.hold)) throw new InvalidArgumentError('hold must be a hold id: 1 to 64 letters, digits, - or _');
    event.hold = request.hold;
  }
  checkFieldsSize(event);
  checkCancellation(request);
  return event;
}

export function fromQueryParams(params: readonly QueryParam[]): QueryValues {
  const query: QueryValues = Object.create(null) as QueryValues;
  for (const { key, values } of params) {
    query[key] = values.length === 1 ? values[0]! : [...values];
  }
  return query;
}
