import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Readable } from 'node:stream';
import {
  BodyTooLargeError,
  InvalidRequestError,
  isReadable,
  isFinal,
  isJsonMime,
  isMimeType,
  MAX_MIME_TYPE_LENGTH,
  MethodNotAllowedError,
  parseJsonBody,
  PipeFailError,
  VERBS,
  type JobInfo,
  type PipeRequest,
  type PipeResponse,
  type Verb,
} from '@restpipe/core';
import { BROADCAST_TARGET, broadcastBody, checkBroadcast, type Broadcast } from './broadcast.js';
import { parseEventPath } from './event-path.js';
import { requestBody } from './request-body.js';
import { RETURN_CODE_HEADER } from './http-errors.js';
import { jobLocation, requireJobs, sendJobResult } from './job-routes.js';
import type { JobsApi } from './jobs-api.js';
import { idempotencyKeyOf, jobTtlOf, parsePrefer, type Preferences } from './prefer.js';

export type EventMethod = Uppercase<Verb> | 'HEAD';
/** The HTTP methods of the event routes: one per verb, and HEAD (a GET without its body). */
export const EVENT_METHODS: readonly EventMethod[] = VERBS.flatMap((verb) => (verb === 'get' ? ['GET', 'HEAD'] : [verb.toUpperCase() as EventMethod]));
export const ALLOW_HEADER = EVENT_METHODS.join(', ');
/** Longest deadline a caller may ask for with `X-Event-Timeout-Ms`: one day. */
export const MAX_EVENT_TIMEOUT_MS = 86_400_000;

export type Send = (target: string | undefined, request: PipeRequest) => Promise<PipeResponse>;

export interface EventRouteOptions {
  /** `/server/` on a client's gateway, `/client/` on the server's. */
  prefix: string;
  /** The server's gateway names a client first: `/client/NAME/...`. */
  withTarget: boolean;
  send: Send;
  /** The node's durable side: undefined with `--data-dir off`. */
  jobs: () => JobsApi | undefined;
  /** The server's `/client/*` (SPEC §11): every connected client. */
  broadcast?: Broadcast | undefined;
  exposeTracebacks?: boolean | undefined;
}

const EMPTY = Buffer.alloc(0);

/**
 * Turns one HTTP request into an event, and the reply into the HTTP response. With
 * `Prefer: respond-async` the event becomes a durable job first (SPEC §8); with
 * `Idempotency-Key` the far side runs it at most once.
 */
export function eventRoute(options: EventRouteOptions) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    if (!(EVENT_METHODS as readonly string[]).includes(request.method)) throw methodNotAllowed(reply, request.method);
    const path = parseEventPath(request.raw.url ?? '', options.prefix, options.withTarget);
    const prefer = parsePrefer(request.headers.prefer);
    const idempotencyKey = idempotencyKeyOf(request.headers['idempotency-key']);
    const ttlMs = jobTtlOf(request.headers['x-job-ttl-ms']);
    const timeoutMs = timeoutOf(request);
    const streamed = isReadable(request.body);
    if (streamed && (prefer.respondAsync || idempotencyKey !== undefined || path.target === BROADCAST_TARGET)) {
      throw new BodyTooLargeError('a job, a keyed request or a broadcast must have a body within --max-event-bytes, with its Content-Length');
    }
    const event: PipeRequest = {
      verb: (request.method === 'HEAD' ? 'get' : request.method.toLowerCase()) as Verb,
      noun: path.noun,
      args: path.args,
      query: path.query,
      ...bodyOf(request),
      timeoutMs,
      requestId: request.id,
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    };
    if (!streamed) return answer(request, reply, options, path, prefer, ttlMs, event);
    try {
      return await answer(request, reply, options, path, prefer, ttlMs, event);
    } catch (error) {
      // Failed before (or without) the pipe taking the body: the rest of it is read and dropped, never left to hold the socket.
      (event.body as Readable).destroy();
      throw error;
    }
  };
}

/** The event's answer: a broadcast's, a job's, or the far handler's reply. */
async function answer(
  request: FastifyRequest,
  reply: FastifyReply,
  options: EventRouteOptions,
  path: ReturnType<typeof parseEventPath>,
  prefer: Preferences,
  ttlMs: number | undefined,
  event: PipeRequest,
): Promise<FastifyReply> {
  const idempotencyKey = event.idempotencyKey;
  if (path.target === BROADCAST_TARGET) {
    checkBroadcast(prefer.respondAsync, idempotencyKey);
    if (!options.broadcast) throw new InvalidRequestError('this node cannot broadcast');
    const body = broadcastBody(await options.broadcast(event), options.exposeTracebacks === true);
    return reply.code(200).type('application/json').send(JSON.stringify(body));
  }
  if (prefer.respondAsync) return respondAsync(reply, options, path.target, event, prefer, ttlMs);
  if (idempotencyKey !== undefined) requireJobs(options.jobs);
  const hangUp = new HangUp(reply);
  event.onCancellable = hangUp.onCancellable;
  let response: PipeResponse;
  try {
    response = await options.send(path.target, event);
  } catch (error) {
    if (error instanceof PipeFailError && error.replayed) reply.header(REPLAYED_HEADER, 'true');
    throw error;
  }
  if (response.replayed) reply.header(REPLAYED_HEADER, 'true');
  // Held for approval (SPEC §9): the job that waits on the hold answers for it, synchronous caller or not.
  if (response.job) return reply.code(202).header('location', jobLocation(response.job)).type('application/json').send(response.raw);
  return sendResponse(reply, response, request.method === 'HEAD');
}

const REPLAYED_HEADER = 'idempotent-replayed';

/** 202 once the job is on disk; with `wait=N`, the job's reply if it ends within N seconds. */
async function respondAsync(
  reply: FastifyReply,
  options: EventRouteOptions,
  pathTarget: string | undefined,
  event: PipeRequest,
  prefer: Preferences,
  ttlMs: number | undefined,
): Promise<FastifyReply> {
  const jobs = requireJobs(options.jobs);
  const target = options.withTarget ? `client/${pathTarget}` : 'server';
  // Watched from the start: a caller that hangs up while the job is stored stops the wait too.
  const left = new AbortController();
  if (prefer.waitSeconds) reply.raw.once('close', () => left.abort());
  const { job } = await jobs.enqueue(target, ttlMs === undefined ? event : { ...event, ttlMs });
  const location = jobLocation(job.id);
  if (prefer.waitSeconds) {
    // A caller that hangs up stops the wait: no timer is left behind for it.
    const settled = await jobs.settled(job.id, prefer.waitSeconds * 1000, left.signal);
    const whole = settled && isFinal(settled.status) ? jobs.get(job.id) : undefined;
    if (whole) return sendJobResult(reply.header('content-location', `${location}/result`), whole);
    if (settled?.status === 'on_hold') return reply.code(202).header('location', location).header('preference-applied', 'respond-async').send(heldBody(settled));
  }
  return reply
    .code(202)
    .header('location', location)
    .header('preference-applied', 'respond-async')
    .send({ job: job.id, status: job.status, location });
}

/** SPEC §9's 202 for a job on a peer's hold. */
function heldBody(info: JobInfo): Record<string, unknown> {
  const expiresAt = info.holdExpiresAt === null ? null : new Date(info.holdExpiresAt).toISOString();
  return { job: info.id, status: 'on_hold', hold: info.hold, reason: info.holdReason ?? '', expiresAt, location: jobLocation(info.id) };
}

/** The 405 for a method no event route takes, with its `Allow` header set on `reply`. */
export function methodNotAllowed(reply: FastifyReply, method: string): MethodNotAllowedError {
  reply.header('allow', ALLOW_HEADER);
  return new MethodNotAllowedError(`method ${method} is not allowed; use ${ALLOW_HEADER}`);
}

/** The caller hung up before its answer: tell the far side to stop. */
class HangUp {
  #cancel: (() => void) | undefined;
  #hungUp = false;

  constructor(private readonly reply: FastifyReply) {
    reply.raw.once('close', this.#onClose);
  }

  readonly onCancellable = (cancel: () => void): void => {
    if (this.#hungUp) cancel();
    else this.#cancel = cancel;
  };

  readonly #onClose = (): void => {
    if (this.reply.raw.writableFinished) return;
    this.#hungUp = true;
    this.#cancel?.();
  };
}

function bodyOf(request: FastifyRequest): { body: Buffer | Readable; mimeType: string; size?: number } {
  if (request.method === 'HEAD') return { body: EMPTY, mimeType: '' };
  const mimeType = request.headers['content-type'] ?? '';
  if (!isMimeType(mimeType)) throw new InvalidRequestError(`Content-Type must be at most ${MAX_MIME_TYPE_LENGTH} characters`);
  // Over --max-event-bytes, or of unknown length: the request itself, streamed to the far side (SPEC §12).
  if (isReadable(request.body)) {
    const length = request.headers['content-length'];
    return { body: requestBody(request.raw), mimeType, ...(length === undefined ? {} : { size: Number(length) }) };
  }
  const body = Buffer.isBuffer(request.body) ? request.body : EMPTY;
  // Bad JSON is refused here, before anything is sent, with the far side's own check.
  if (body.length > 0 && isJsonMime(mimeType)) parseJsonBody(body);
  return { body, mimeType };
}

function timeoutOf(request: FastifyRequest): number | undefined {
  const header = request.headers['x-event-timeout-ms'];
  if (header === undefined) return undefined;
  const value = Number(header);
  if (!/^\d+$/.test(String(header)) || value <= 0 || value > MAX_EVENT_TIMEOUT_MS) {
    throw new InvalidRequestError(`X-Event-Timeout-Ms must be a whole number of ms from 1 to ${MAX_EVENT_TIMEOUT_MS}`);
  }
  return value;
}

function sendResponse(reply: FastifyReply, response: PipeResponse, head: boolean): FastifyReply {
  reply.code(200).header(RETURN_CODE_HEADER, String(response.returnCode));
  if (response.streamed) {
    // Chunked, or with Content-Length when the handler gave a size. Fastify destroys the
    // stream when the caller leaves, and resets the response when the stream fails.
    reply.type(response.mimeType || 'application/octet-stream');
    if (response.size !== undefined) reply.header('content-length', String(response.size));
    if (!head) return reply.send(response.stream);
    // A HEAD wants the headers only: the far source stops at once rather than stream into nothing.
    response.stream.destroy();
    return reply.send();
  }
  if (response.raw.length === 0 && !response.mimeType) return reply.send();
  if (response.mimeType) reply.type(response.mimeType);
  else reply.type('application/octet-stream');
  return reply.send(response.raw);
}
