/**
 * Between a job as the store keeps it and a request on the pipe: what enqueue() stores,
 * what each delivery sends, and how the delivery's outcome becomes the job's result or
 * another attempt.
 */
import { BodyTooLargeError, ERROR_CODES, InvalidArgumentError, InvalidRequestError, PipeFailError, RpError } from '@restpipe/wire';
import type { Job, JobResult, NewJob } from '@restpipe/store';
import type { PipeRequest, PipeResponse } from '../api-types.js';
import { relayedEnvelope } from '../envelope.js';
import { exceptionReply } from '../handle-event.js';
import { MAX_MS } from '../limits.js';
import { fromQueryParams, toEventFrame } from '../request.js';

/** A request to queue as a job: a PipeRequest, and how long it may wait to be delivered. */
export interface EnqueueRequest extends PipeRequest {
  /** Ms until the job expires undelivered (`X-Job-Ttl-Ms`). @default the node's jobTtlMs */
  ttlMs?: number;
}

export interface JobDefaults {
  readonly timeoutMs: number;
  readonly jobTtlMs: number;
  /**
   * The longest TTL a job may have: the idempotency TTL. A job redelivered after the
   * receiver dropped its key could run twice; peers are expected to keep keys as long.
   */
  readonly maxTtlMs: number;
}

/** Validates the request as a send would (the same checks, the same errors) and makes the job to store. */
export function newJobOf(target: string, request: EnqueueRequest, defaults: JobDefaults): NewJob {
  const timeoutMs = request.timeoutMs ?? defaults.timeoutMs;
  const frame = toEventFrame(request, 0, timeoutMs, request.requestId || 'job');
  const ttlMs = request.ttlMs ?? defaults.jobTtlMs;
  if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_MS) {
    throw new InvalidArgumentError(`ttlMs must be a whole number of ms from 1 to ${MAX_MS}, got ${String(ttlMs)}`);
  }
  if (ttlMs > defaults.maxTtlMs) {
    throw new InvalidRequestError(`a job's TTL (X-Job-Ttl-Ms) may be at most the idempotency TTL, ${defaults.maxTtlMs} ms; got ${ttlMs}`);
  }
  return {
    target,
    verb: frame.verb,
    noun: frame.noun,
    args: frame.args,
    query: frame.query,
    mimeType: frame.mimeType,
    body: frame.data,
    timeoutMs,
    ...(request.requestId ? { requestId: request.requestId } : {}),
    ...(frame.idempotencyKey ? { idempotencyKey: frame.idempotencyKey } : {}),
    ttlMs,
  };
}

/** One delivery of `job`, its `attempts`-th, with its own deadline. */
export function deliveryRequest(job: Job, timeoutMs: number): PipeRequest {
  // A job on a peer's hold asks for the hold's outcome (a `get`; a `delete` withdraws it): the event itself is the peer's already.
  if (job.hold) {
    return { verb: 'get', noun: job.noun, timeoutMs, requestId: job.requestId || job.id, attempt: job.attempts, hold: job.hold };
  }
  return {
    verb: job.verb as PipeRequest['verb'],
    noun: job.noun,
    args: job.args,
    query: fromQueryParams(job.query.map((q) => ({ key: q.key, values: [...q.values] }))),
    body: job.body,
    mimeType: job.mimeType,
    timeoutMs,
    requestId: job.requestId || job.id,
    idempotencyKey: job.idempotencyKey,
    attempt: job.attempts,
  };
}

export function resultOfResponse(response: PipeResponse): JobResult {
  if (response.streamed) {
    // A job keeps its result whole in the store: a stream's body has no place there (SPEC §12).
    response.stream.destroy();
    return resultOfFailure(new BodyTooLargeError('the handler answered with a stream, and a job keeps only a whole result: call it synchronously'));
  }
  return { kind: 0, status: 200, returnCode: response.returnCode, mimeType: response.mimeType, body: response.raw };
}

/** The failure, as the synchronous call would have answered it. */
export function resultOfFailure(error: unknown): JobResult {
  if (error instanceof PipeFailError) {
    const body = Buffer.from(JSON.stringify(relayedEnvelope(error)));
    return { kind: 1, status: error.status, returnCode: error.returnCode ?? 0, mimeType: 'application/json', body };
  }
  return resultOfReply(exceptionReply(error, false));
}

/** Reply fields (`data` the body), as a job or a hold keeps them. */
export function resultOfReply(reply: { kind: number; status: number; returnCode: number; mimeType: string; data: Uint8Array }): JobResult {
  return { kind: reply.kind, status: reply.status, returnCode: reply.returnCode, mimeType: reply.mimeType, body: reply.data };
}

/** Local failures that say nothing about the event: the peer was away, slow, busy, or left. */
const LOCAL_FINAL: ReadonlySet<string> = new Set([
  ERROR_CODES.INVALID_ARGUMENT,
  ERROR_CODES.INVALID_PATH,
  ERROR_CODES.INVALID_BODY,
  ERROR_CODES.BODY_TOO_LARGE,
  ERROR_CODES.FRAME_TOO_LARGE,
]);

/** The far side's answers that mean "not now" rather than an outcome. */
const REMOTE_RETRY: ReadonlySet<string> = new Set([
  ERROR_CODES.IDEMPOTENCY_KEY_IN_USE,
  ERROR_CODES.TOO_MANY_IN_FLIGHT,
  ERROR_CODES.STORE,
  ERROR_CODES.STORE_FULL,
]);

/**
 * Whether a failed delivery is tried again (same key) or ends the job. The far side's
 * answer is an outcome, unless it says "busy" or "still running"; a local failure
 * (disconnect, timeout, absent peer, a full queue) is retried, unless the request
 * itself can never be sent.
 */
export function isRetryable(error: unknown): boolean {
  // A replayed "busy" is the handler's own stored answer: an outcome, not a busy peer.
  if (error instanceof PipeFailError) return !error.replayed && REMOTE_RETRY.has(error.code);
  if (error instanceof RpError) return !LOCAL_FINAL.has(error.code);
  return false;
}

/** Local failures raised before the event left this node: that delivery was no attempt. */
const NEVER_SENT: ReadonlySet<string> = new Set([
  ERROR_CODES.NOT_ENABLED,
  ERROR_CODES.PEER_UNAVAILABLE,
  ERROR_CODES.UNKNOWN_CLIENT,
  ERROR_CODES.TOO_MANY_IN_FLIGHT,
  ERROR_CODES.CLOSED,
]);

/** Whether the failed delivery surely never reached the wire (so the job cannot have run by it). */
export function wasNeverSent(error: unknown): boolean {
  return !(error instanceof PipeFailError) && error instanceof RpError && NEVER_SENT.has(error.code);
}

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 60_000;

/** Exponential backoff with jitter (50 to 100% of the step), from 0.5 s up to 60 s. */
export function retryDelayMs(attempts: number, random: () => number = Math.random): number {
  const step = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, Math.min(attempts - 1, 20)));
  return Math.round(step * (0.5 + random() / 2));
}
