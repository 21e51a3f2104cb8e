export * from '@restpipe/wire';
export { PipeServer, DEFAULT_LISTEN_HOST, DEFAULT_LISTEN_PORT, type PipeServerOptions } from './pipe-server.js';
export { MAX_OFFLINE_CLIENTS, type ClientInfo, type OfflineClientInfo } from './client-roster.js';
export { PipeClient, DEFAULT_SERVER_HOST, DEFAULT_SERVER_PORT, MAX_SERVERS, type PipeClientOptions, type ReconnectingInfo, type ServerAddress } from './pipe-client.js';
export { checkServers, formatAddress } from './server-list.js';
export { PipeConnection, type Role } from './connection.js';
export {
  EventHandler,
  HandlerReply,
  reply,
  type EventBody,
  type EventContext,
  type Peer,
  type PipeLink,
  type QueryValues,
  type ReplyOptions,
  type StreamReplyOptions,
  type StreamSource,
  type Verb,
} from './event-handler.js';
export { StreamSender, type SenderLink, type SenderOptions } from './streams/stream-sender.js';
export { StreamReceiver, type ReceiverLink, type ReceiverOptions } from './streams/stream-receiver.js';
export { isReadable, isStreamSource, toReadable } from './streams/stream-source.js';
export { DefaultHandler } from './default-handler.js';
export { VERBS } from './api-types.js';
export { NOUN_SEGMENT, isVerb, validateNoun, handlerMethodName, findHandlerMethod } from './dispatch.js';
export { essence, isJsonMime, isTextMime, parseBody, parseJsonBody, encodeBody, JSON_MIME } from './body.js';
export { envelopeOf, envelopeBytes, failFromEnvelope, relayedEnvelope, type ExceptionEnvelope } from './envelope.js';
export { raiseForException, type ResponseLike } from './raise-for-exception.js';
export { type PipeRequest, type PipeResponse } from './request.js';
export { isMimeType, MAX_EVENT_FIELDS_BYTES, MAX_MIME_TYPE_LENGTH, MAX_RETURN_CODE } from './wire-values.js';
export { peerNameFromCertificate, dnsNames } from './identity.js';
export { saneRequestId, peerRequestId, REQUEST_ID_PATTERN, MAX_REQUEST_ID_LENGTH } from './request-id.js';
export { diagnostics } from './diagnostics.js';
export type * from './diagnostics.js';
export * from './options.js';
export { ConnectionState, CloseReason } from './state.js';
export { type Logger, silentLogger } from './logger.js';
export { type BackoffOptions } from './reconnect.js';
export { VERSION, SOFTWARE } from './version.js';
export { AEAD_CIPHERS, TICKET_KEYS_BYTES } from './transport.js';
export { Durable, type Enqueued, type JobEvent, type JobMessage } from './durable/durable.js';
export {
  DEFAULT_IDEMPOTENCY_TTL_MS,
  DEFAULT_JOB_TTL_MS,
  DEFAULT_MAX_JOBS,
  resolveDurableOptions,
  type DurableOptions,
  type ResolvedDurableOptions,
} from './durable/durable-options.js';
export { type EnqueueRequest } from './durable/job-request.js';
export { jobView, isFinal, type JobView } from './durable/job-view.js';
export { isIdempotencyKey, MAX_IDEMPOTENCY_KEY_LENGTH } from './idempotency-key.js';
export { JOB_STATUSES, isJobStatus, type Job, type JobInfo, type JobStatus, type JobResult } from '@restpipe/store';
export { hold, isHoldRequest, DEFAULT_HOLD_TTL_MS, MAX_HOLD_TTL_MS, MAX_HOLD_REASON_LENGTH, type HoldOptions, type HoldRequest } from './holds/hold-request.js';
export { HoldDesk, type HoldDecision, type HoldMessage } from './holds/hold-desk.js';
export { digestOf } from './event-fingerprint.js';
export { holdView } from './holds/hold-view.js';
export { jobLocation } from './durable/job-location.js';
export type { HoldView, HeldInfo } from './api-types.js';
export { HOLD_STATUSES, isHoldStatus, type HoldStatus } from '@restpipe/store';
export { NOBODY, type RemotePeers, type BroadcastOutcome } from './cluster/remote-peers.js';
export type { ServerSide } from './cluster/server-side.js';
export { fromQueryParams, toEventFrame, responseFromReply } from './request.js';
export { Waiters } from './waiters.js';
