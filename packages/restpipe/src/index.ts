/**
 * restpipe: what users import.
 *
 *     import { EventHandler, reply, PipeClient, raiseForException } from 'restpipe';
 *
 * The public API, as an explicit list (SPEC §6): the two ends of a pipe, what a
 * handler is given and may return, every error restpipe raises with its codes,
 * and their types. Everything else in @restpipe/core, wire and errors is internal
 * and may change in any release. `api-report.md` beside this package lists every
 * name with its kind; `npm run api-report` rewrites it, and a test fails while it
 * differs from this file.
 */

// The two ends of a pipe.
export { PipeServer, PipeClient } from '@restpipe/core';
export type {
  PipeServerOptions,
  PipeClientOptions,
  PipeOptions,
  TlsMaterial,
  TlsMinVersion,
  ClientInfo,
  ReconnectingInfo,
  BackoffOptions,
  Logger,
} from '@restpipe/core';

// Requests, both ways.
export type { PipeRequest, PipeResponse, QueryValues, Verb } from '@restpipe/core';

// Durable jobs (SPEC §8): pipe.enqueue() and pipe.job(id), with a data directory.
export type { DurableOptions, EnqueueRequest, JobView, JobStatus } from '@restpipe/core';

// Approval holds (SPEC §9): authorize(ctx) may return hold({ reason, ttlMs }).
export { hold } from '@restpipe/core';
export type { HoldOptions, HoldRequest, HoldView, HeldInfo } from '@restpipe/core';

// Handlers: what they are given and what they may return.
export { EventHandler, DefaultHandler, HandlerReply, reply } from '@restpipe/core';
export type { EventContext, EventBody, Peer, PipeLink, ReplyOptions, StreamReplyOptions, StreamSource } from '@restpipe/core';

// A connection's life, as events and hooks report it.
export { CloseReason, ConnectionState } from '@restpipe/core';

// Signed gateway requests (SPEC §10): the headers an HTTP caller adds for --signing-keys-file.
export { signRequest } from '@restpipe/signing';
export type { SignableRequest, SignOptions, SignatureHeaders } from '@restpipe/signing';

// Failures: raiseForException for any HTTP caller of a gateway, and every error class.
export { raiseForException } from '@restpipe/core';
export type { ResponseLike, ExceptionEnvelope } from '@restpipe/core';
export { ERROR_CODES, RETURN_CODES, type ErrorCode } from '@restpipe/core';
export { PipeFailError, type PipeFailDetails } from '@restpipe/core';
export {
  RpError,
  HttpError,
  InvalidPathError,
  InvalidBodyError,
  BodyTooLargeError,
  NotFoundError,
  InvalidRequestError,
  GatewayError,
  UnauthorizedError,
  MethodNotAllowedError,
  ForbiddenError,
  UnknownHandlerError,
  UnknownClientError,
  PeerUnavailableError,
  TooManyInFlightError,
  EventTimeoutError,
  PeerDisconnectedError,
  CancelledError,
  FrameTooLargeError,
  ProtocolError,
  HandshakeTimeoutError,
  HelloTimeoutError,
  HeartbeatTimeoutError,
  SlowConsumerError,
  GoawayError,
  TlsError,
  ClosedError,
  ConfigError,
  CertsError,
  InvalidArgumentError,
  StoreError,
  StoreFullError,
  NotEnabledError,
  UnknownJobError,
  JobPendingError,
  JobExpiredError,
  JobCancelledError,
  JobStateError,
  JobQueueFullError,
  IndeterminateError,
  IdempotencyKeyMismatchError,
  IdempotencyKeyInUseError,
  UnknownHoldError,
  HoldDecidedError,
  HoldDigestMismatchError,
  HoldDeniedError,
  HoldExpiredError,
  InvalidSignatureError,
  ReplayedRequestError,
  NonceStoreFullError,
  ClusterUnavailableError,
  StreamAbortedError,
  BodyIsStreamError,
} from '@restpipe/core';

export { VERSION } from '@restpipe/core';
