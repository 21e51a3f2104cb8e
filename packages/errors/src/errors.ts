import { brand, hasBrand } from './brand.js';
import { isHandlerStatus } from './reply-status.js';

/**
 * Every error restpipe raises carries a stable `code` (`RP_ERR_*`) to branch on,
 * and the HTTP `status` a gateway answers with when the error reaches it.
 * Messages are for people and may change; codes never do.
 */
export const ERROR_CODES = {
  INVALID_PATH: 'RP_ERR_INVALID_PATH',
  INVALID_BODY: 'RP_ERR_INVALID_BODY',
  BODY_TOO_LARGE: 'RP_ERR_BODY_TOO_LARGE',
  UNAUTHORIZED: 'RP_ERR_UNAUTHORIZED',
  METHOD_NOT_ALLOWED: 'RP_ERR_METHOD_NOT_ALLOWED',
  FORBIDDEN: 'RP_ERR_FORBIDDEN',
  UNKNOWN_HANDLER: 'RP_ERR_UNKNOWN_HANDLER',
  HANDLER: 'RP_ERR_HANDLER',
  UNKNOWN_CLIENT: 'RP_ERR_UNKNOWN_CLIENT',
  PEER_UNAVAILABLE: 'RP_ERR_PEER_UNAVAILABLE',
  TOO_MANY_IN_FLIGHT: 'RP_ERR_TOO_MANY_IN_FLIGHT',
  EVENT_TIMEOUT: 'RP_ERR_EVENT_TIMEOUT',
  PEER_DISCONNECTED: 'RP_ERR_PEER_DISCONNECTED',
  CANCELLED: 'RP_ERR_CANCELLED',
  FRAME_TOO_LARGE: 'RP_ERR_FRAME_TOO_LARGE',
  PROTOCOL: 'RP_ERR_PROTOCOL',
  HANDSHAKE_TIMEOUT: 'RP_ERR_HANDSHAKE_TIMEOUT',
  HELLO_TIMEOUT: 'RP_ERR_HELLO_TIMEOUT',
  HEARTBEAT_TIMEOUT: 'RP_ERR_HEARTBEAT_TIMEOUT',
  SLOW_CONSUMER: 'RP_ERR_SLOW_CONSUMER',
  GOAWAY: 'RP_ERR_GOAWAY',
  TLS: 'RP_ERR_TLS',
  CLOSED: 'RP_ERR_CLOSED',
  CONFIG: 'RP_ERR_CONFIG',
  CERTS: 'RP_ERR_CERTS',
  REMOTE: 'RP_ERR_REMOTE',
  NOT_FOUND: 'RP_ERR_NOT_FOUND',
  INVALID_REQUEST: 'RP_ERR_INVALID_REQUEST',
  GATEWAY: 'RP_ERR_GATEWAY',
  INVALID_ARGUMENT: 'RP_ERR_INVALID_ARGUMENT',
  HTTP: 'RP_ERR_HTTP',
  STORE: 'RP_ERR_STORE',
  STORE_FULL: 'RP_ERR_STORE_FULL',
  NOT_ENABLED: 'RP_ERR_NOT_ENABLED',
  UNKNOWN_JOB: 'RP_ERR_UNKNOWN_JOB',
  JOB_PENDING: 'RP_ERR_JOB_PENDING',
  JOB_EXPIRED: 'RP_ERR_JOB_EXPIRED',
  JOB_CANCELLED: 'RP_ERR_JOB_CANCELLED',
  JOB_QUEUE_FULL: 'RP_ERR_JOB_QUEUE_FULL',
  JOB_STATE: 'RP_ERR_JOB_STATE',
  INDETERMINATE: 'RP_ERR_INDETERMINATE',
  IDEMPOTENCY_KEY_MISMATCH: 'RP_ERR_IDEMPOTENCY_KEY_MISMATCH',
  IDEMPOTENCY_KEY_IN_USE: 'RP_ERR_IDEMPOTENCY_KEY_IN_USE',
  UNKNOWN_HOLD: 'RP_ERR_UNKNOWN_HOLD',
  HOLD_DECIDED: 'RP_ERR_HOLD_DECIDED',
  HOLD_DIGEST_MISMATCH: 'RP_ERR_HOLD_DIGEST_MISMATCH',
  HOLD_DENIED: 'RP_ERR_HOLD_DENIED',
  HOLD_EXPIRED: 'RP_ERR_HOLD_EXPIRED',
  INVALID_SIGNATURE: 'RP_ERR_INVALID_SIGNATURE',
  REPLAYED_REQUEST: 'RP_ERR_REPLAYED_REQUEST',
  NONCE_STORE_FULL: 'RP_ERR_NONCE_STORE_FULL',
  CLUSTER_UNAVAILABLE: 'RP_ERR_CLUSTER_UNAVAILABLE',
  STREAM_ABORTED: 'RP_ERR_STREAM_ABORTED',
  BODY_IS_STREAM: 'RP_ERR_BODY_IS_STREAM',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** Return codes carried in `Reply.return_code` and the `X-Event-Return-Code` header. */
export const RETURN_CODES = {
  OK: 0,
  HANDLER_THREW: 251,
  FORBIDDEN: 252,
  UNKNOWN_HANDLER: 255,
} as const;

/**
 * The base of every restpipe error. `instanceof` on it and on its subclasses checks
 * a brand (see brand.ts), so errors from another copy of restpipe count too.
 */
export abstract class RpError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(this, value);
  }

  abstract readonly code: string;
  /** HTTP status a gateway answers with when this error ends a request. */
  readonly status: number = 500;
  /** Return code for the `X-Event-Return-Code` header, when the far side produced one. */
  readonly returnCode: number | undefined = undefined;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidPathError extends RpError {
  readonly code = ERROR_CODES.INVALID_PATH;
  override readonly status = 400;
}

export class InvalidBodyError extends RpError {
  readonly code = ERROR_CODES.INVALID_BODY;
  override readonly status = 400;
}

export class BodyTooLargeError extends RpError {
  readonly code = ERROR_CODES.BODY_TOO_LARGE;
  override readonly status = 413;
}

/** A gateway URL outside the routes restpipe serves. */
export class NotFoundError extends RpError {
  readonly code = ERROR_CODES.NOT_FOUND;
  override readonly status = 404;
}

/** A malformed request header, such as a bad `X-Event-Timeout-Ms`. */
export class InvalidRequestError extends RpError {
  readonly code = ERROR_CODES.INVALID_REQUEST;
  override readonly status = 400;
}

/** Something failed inside the gateway itself; never the far side's doing. */
export class GatewayError extends RpError {
  readonly code = ERROR_CODES.GATEWAY;
}

export class UnauthorizedError extends RpError {
  readonly code = ERROR_CODES.UNAUTHORIZED;
  override readonly status = 401;
}

export class MethodNotAllowedError extends RpError {
  readonly code = ERROR_CODES.METHOD_NOT_ALLOWED;
  override readonly status = 405;
}

export class ForbiddenError extends RpError {
  readonly code = ERROR_CODES.FORBIDDEN;
  override readonly status = 403;
  override readonly returnCode = RETURN_CODES.FORBIDDEN;
}

export class UnknownHandlerError extends RpError {
  readonly code = ERROR_CODES.UNKNOWN_HANDLER;
  override readonly status = 404;
  override readonly returnCode = RETURN_CODES.UNKNOWN_HANDLER;
}

export class UnknownClientError extends RpError {
  readonly code = ERROR_CODES.UNKNOWN_CLIENT;
  override readonly status = 404;
}

export class PeerUnavailableError extends RpError {
  readonly code = ERROR_CODES.PEER_UNAVAILABLE;
  override readonly status = 503;
}

export class TooManyInFlightError extends RpError {
  readonly code = ERROR_CODES.TOO_MANY_IN_FLIGHT;
  override readonly status = 503;
}

export class EventTimeoutError extends RpError {
  readonly code = ERROR_CODES.EVENT_TIMEOUT;
  override readonly status = 504;
}

export class PeerDisconnectedError extends RpError {
  readonly code = ERROR_CODES.PEER_DISCONNECTED;
  override readonly status = 502;
}

export class CancelledError extends RpError {
  readonly code = ERROR_CODES.CANCELLED;
  override readonly status = 499;
}

export class FrameTooLargeError extends RpError {
  readonly code = ERROR_CODES.FRAME_TOO_LARGE;
  constructor(
    readonly declaredBytes: number,
    readonly maxBytes: number,
  ) {
    super(`frame of ${declaredBytes} bytes exceeds the maximum of ${maxBytes}`);
  }
}

/** The peer broke the protocol: a malformed frame closes the connection; a bad Reply fails its request with 502. */
export class ProtocolError extends RpError {
  readonly code = ERROR_CODES.PROTOCOL;
  override readonly status = 502;
}

export class HandshakeTimeoutError extends RpError {
  readonly code = ERROR_CODES.HANDSHAKE_TIMEOUT;
}

export class HelloTimeoutError extends RpError {
  readonly code = ERROR_CODES.HELLO_TIMEOUT;
}

export class HeartbeatTimeoutError extends RpError {
  readonly code = ERROR_CODES.HEARTBEAT_TIMEOUT;
}

export class SlowConsumerError extends RpError {
  readonly code = ERROR_CODES.SLOW_CONSUMER;
}

/** The peer sent Goaway; `reason` is its machine-readable reason. */
export class GoawayError extends RpError {
  readonly code = ERROR_CODES.GOAWAY;
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message || `peer sent goaway: ${reason}`);
  }
}

export class TlsError extends RpError {
  readonly code = ERROR_CODES.TLS;
}

export class ClosedError extends RpError {
  readonly code = ERROR_CODES.CLOSED;
  override readonly status = 503;
}

export class ConfigError extends RpError {
  readonly code = ERROR_CODES.CONFIG;
}

export class CertsError extends RpError {
  readonly code = ERROR_CODES.CERTS;
}

/**
 * A value that would reach the wire is not one it can carry (a return code that is
 * not a uint32, a timeout that is not a whole number of ms, a mime type that is
 * not a string...). It fails the one request or reply that carried it, never the connection.
 */
export class InvalidArgumentError extends RpError {
  readonly code = ERROR_CODES.INVALID_ARGUMENT;
}

/**
 * Thrown by a handler to answer with a status of its choosing: any 4xx, or 503.
 * Any other status is a plain 500. The return code is 251, as for any handler failure.
 */
export class HttpError extends RpError {
  readonly code = ERROR_CODES.HTTP;
  override readonly status: number;
  override readonly returnCode = RETURN_CODES.HANDLER_THREW;

  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.status = isHandlerStatus(status) ? status : 500;
  }
}

/**
 * The node's durable store (its `--data-dir`) cannot be opened, or a write to it failed:
 * a corrupt or foreign database, an unwritable directory, a directory another process
 * holds, a schema newer than this restpipe. At start a CLI prints the one-line message
 * and exits 2; at run time the request that needed the write answers 503.
 */
export class StoreError extends RpError {
  readonly code: ErrorCode = ERROR_CODES.STORE;
  override readonly status: number = 503;
}

/** The store's disk is full (SQLITE_FULL): the write is refused whole, and what was committed before stays. */
export class StoreFullError extends StoreError {
  override readonly code: ErrorCode = ERROR_CODES.STORE_FULL;
  override readonly status: number = 507;
}

/** The node runs with `--data-dir off`: jobs, holds and idempotency keys are not kept. */
export class NotEnabledError extends RpError {
  readonly code = ERROR_CODES.NOT_ENABLED;
  override readonly status = 501;
}

/** No job with that id on this node. */
export class UnknownJobError extends RpError {
  readonly code = ERROR_CODES.UNKNOWN_JOB;
  override readonly status = 404;
}

/** The job has no outcome yet: ask again after `Retry-After`. */
export class JobPendingError extends RpError {
  readonly code = ERROR_CODES.JOB_PENDING;
  override readonly status = 409;
}

/** The job's TTL (`X-Job-Ttl-Ms`) ran out before any delivery got a reply. */
export class JobExpiredError extends RpError {
  readonly code = ERROR_CODES.JOB_EXPIRED;
  override readonly status = 504;
}

/** The job was cancelled (`DELETE /_rp/jobs/ID`): it has no result, and never will. */
export class JobCancelledError extends RpError {
  readonly code = ERROR_CODES.JOB_CANCELLED;
  override readonly status = 410;
}

/** The job is not in a state that allows this: cancelling one that already runs or ended. */
export class JobStateError extends RpError {
  readonly code = ERROR_CODES.JOB_STATE;
  override readonly status = 409;
}

/** The node already has `--max-jobs` unfinished jobs. */
export class JobQueueFullError extends RpError {
  readonly code = ERROR_CODES.JOB_QUEUE_FULL;
  override readonly status = 503;
}

/**
 * The handler for this idempotency key was running when the receiving node died: it may or
 * may not have had its effect, and it is never run again (at-most-once execution).
 */
export class IndeterminateError extends RpError {
  readonly code = ERROR_CODES.INDETERMINATE;
}

/** The idempotency key was first used for another request (verb, noun, args, query or body). */
export class IdempotencyKeyMismatchError extends RpError {
  readonly code = ERROR_CODES.IDEMPOTENCY_KEY_MISMATCH;
  override readonly status = 422;
}

/** The first request with this idempotency key is still running. */
export class IdempotencyKeyInUseError extends RpError {
  readonly code = ERROR_CODES.IDEMPOTENCY_KEY_IN_USE;
  override readonly status = 409;
}

/** No hold with that id on this node (or it was made for another peer). */
export class UnknownHoldError extends RpError {
  readonly code = ERROR_CODES.UNKNOWN_HOLD;
  override readonly status = 404;
}

/** The hold was already approved, denied or expired: a hold takes one decision. */
export class HoldDecidedError extends RpError {
  readonly code = ERROR_CODES.HOLD_DECIDED;
  override readonly status = 409;
}

/** A decision named a digest other than the held event's: it was meant for another event. */
export class HoldDigestMismatchError extends RpError {
  readonly code = ERROR_CODES.HOLD_DIGEST_MISMATCH;
  override readonly status = 409;
}

/** A person (or `authResponse`) denied the held event. */
export class HoldDeniedError extends RpError {
  readonly code = ERROR_CODES.HOLD_DENIED;
  override readonly status = 403;
  override readonly returnCode = RETURN_CODES.FORBIDDEN;
}

/** Nobody decided on the held event before its hold expired. */
export class HoldExpiredError extends RpError {
  readonly code = ERROR_CODES.HOLD_EXPIRED;
  override readonly status = 403;
  override readonly returnCode = RETURN_CODES.FORBIDDEN;
}

/** A gateway request's HTTP Message Signature (SPEC §10) is missing, malformed, stale or wrong. */
export class InvalidSignatureError extends RpError {
  readonly code = ERROR_CODES.INVALID_SIGNATURE;
  override readonly status = 401;
}

/** A signed request whose nonce was seen within the replay window. */
export class ReplayedRequestError extends RpError {
  readonly code = ERROR_CODES.REPLAYED_REQUEST;
  override readonly status = 401;
}

/** The gateway remembers as many nonces as it may: new signed requests wait until old ones age out. */
export class NonceStoreFullError extends RpError {
  readonly code = ERROR_CODES.NONCE_STORE_FULL;
  override readonly status = 503;
}

/** The client is not connected to this node, and the cluster (NATS) that would reach it is down (SPEC §11). */
export class ClusterUnavailableError extends RpError {
  readonly code = ERROR_CODES.CLUSTER_UNAVAILABLE;
  override readonly status = 503;
}

export interface PipeFailDetails {
  /** Class name of the exception on the side that raised it, e.g. `TypeError`. */
  readonly className: string;
  readonly message: string;
  readonly code: string;
  readonly returnCode: number | undefined;
  readonly status: number;
  readonly traceback: string;
  /** The far side answered from its record of the request's idempotency key (SPEC §8). */
  readonly replayed?: boolean | undefined;
}

/**
 * A failure reported by the far side (or by a gateway) as an exception envelope.
 * `code` is the remote `RP_ERR_*` code, `className` the remote class name.
 */
export class PipeFailError extends RpError {
  readonly code: string;
  override readonly status: number;
  override readonly returnCode: number | undefined;
  readonly className: string;
  readonly traceback: string;
  /** The far side answered from its record of the request's idempotency key: its handler did not run now. */
  readonly replayed: boolean;

  constructor(details: PipeFailDetails) {
    super(details.message);
    this.code = details.code;
    this.status = details.status;
    this.returnCode = details.returnCode;
    this.className = details.className;
    this.traceback = details.traceback;
    this.replayed = details.replayed === true;
  }

  /** The remote class name, under the envelope's own key. */
  get class(): string {
    return this.className;
  }
}

/**
 * A stream (SPEC §12) ended without its clean end: the far source failed, the far side
 * went away, or the stream moved no data for the deadline. The HTTP response, if it
 * started, ends aborted rather than clean.
 */
export class StreamAbortedError extends RpError {
  readonly code = ERROR_CODES.STREAM_ABORTED;
  override readonly status = 502;
}

/** `body.raw` or `body.data` (or `response.raw`) of a streamed body: read `.stream` instead. */
export class BodyIsStreamError extends RpError {
  readonly code = ERROR_CODES.BODY_IS_STREAM;
  override readonly status = 500;
}

/** Every error class, under the name its brand carries (see brand.ts). */
export const ERROR_CLASSES = {
  RpError, InvalidPathError, InvalidBodyError, BodyTooLargeError, NotFoundError, InvalidRequestError,
  GatewayError, UnauthorizedError, MethodNotAllowedError, ForbiddenError, UnknownHandlerError,
  UnknownClientError, PeerUnavailableError, TooManyInFlightError, EventTimeoutError,
  PeerDisconnectedError, CancelledError, FrameTooLargeError, ProtocolError, HandshakeTimeoutError,
  HelloTimeoutError, HeartbeatTimeoutError, SlowConsumerError, GoawayError, TlsError, ClosedError,
  ConfigError, CertsError, InvalidArgumentError, HttpError, PipeFailError, StoreError, StoreFullError,
  NotEnabledError, UnknownJobError, JobPendingError, JobExpiredError, JobCancelledError, JobStateError, JobQueueFullError,
  IndeterminateError, IdempotencyKeyMismatchError, IdempotencyKeyInUseError,
  UnknownHoldError, HoldDecidedError, HoldDigestMismatchError, HoldDeniedError, HoldExpiredError,
  InvalidSignatureError, ReplayedRequestError, NonceStoreFullError, ClusterUnavailableError,
  StreamAbortedError, BodyIsStreamError,
} as const;

for (const [name, cls] of Object.entries(ERROR_CLASSES)) brand(cls, name);
