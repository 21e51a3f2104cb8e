import { ConfigError } from '@restpipe/wire';
import type { EventHandler } from './event-handler.js';
import { FRAME_OVERHEAD_BYTES, MAX_MS } from './limits.js';
import type { Logger } from './logger.js';
import { DEFAULT_MAX_STREAMS, DEFAULT_STREAM_WINDOW_BYTES, MIN_STREAM_WINDOW_BYTES } from './streams/stream-ref.js';

export { FRAME_OVERHEAD_BYTES, MAX_MS } from './limits.js';
export { DEFAULT_MAX_STREAMS, DEFAULT_STREAM_WINDOW_BYTES, MAX_STREAM_FRAME_BYTES, MIN_STREAM_WINDOW_BYTES } from './streams/stream-ref.js';

export const DEFAULT_HEARTBEAT_MS = 5_000;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_CONNECT_WAIT_MS = 2_000;
export const DEFAULT_MAX_EVENT_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_IN_FLIGHT = 1_024;
export const DEFAULT_MAX_CONCURRENCY = 64;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_HELLO_TIMEOUT_MS = 5_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** Bytes handed to the socket and not yet taken by the kernel, past which new requests wait their turn here. */
export const DEFAULT_MAX_PENDING_WRITE_BYTES = 16 * 1024 * 1024;
/** Bodies of the inbound events of one connection, queued or running, past which it is not read. */
export const DEFAULT_MAX_INBOUND_BYTES = 64 * 1024 * 1024;
/** Clamps on what a peer says: its deadlines and its heartbeat interval. */
export const MAX_PEER_DEADLINE_MS = 86_400_000;
export const MAX_PEER_HEARTBEAT_MS = 300_000;
export const RECONNECT_MIN_MS = 250;
export const RECONNECT_MAX_MS = 30_000;
export const RECONNECT_FACTOR = 2;
/** Missed heartbeat intervals after which a silent peer counts as dead. */
export const HEARTBEAT_MISSES = 3;

export type TlsMinVersion = 'TLSv1.3' | 'TLSv1.2';

/** PEM material for one side of a mutual-TLS connection. */
export interface TlsMaterial {
  cert: string | Buffer;
  key: string | Buffer;
  ca: string | Buffer;
  /** Certificate revocation list(s), PEM. Server side. */
  crl?: string | Buffer | undefined;
  /** @default 'TLSv1.3' */
  minVersion?: TlsMinVersion | undefined;
}

export interface PipeOptions {
  tls: TlsMaterial;
  /** The EventHandler instance that answers events from the peer(s). */
  handler?: EventHandler | undefined;
  /**
   * Ping interval, 1 to 300000 (MAX_PEER_HEARTBEAT_MS: peers clamp a longer one from
   * our Hello, and would declare this node dead when it is idle). @default 5000
   */
  heartbeatMs?: number | undefined;
  /** Default reply deadline. @default 30000 */
  timeoutMs?: number | undefined;
  /** How long a request waits for an absent peer. @default 2000 */
  connectWaitMs?: number | undefined;
  /** @default 4194304 */
  maxEventBytes?: number | undefined;
  /**
   * Two bounds, one each way, and both answer 503 TooManyInFlightError at once:
   * - outbound, the requests of ours awaiting a reply on one connection (lowered to
   *   the peer's own maxInFlight, from its Hello), and the requests waiting for an
   *   absent peer to connect;
   * - inbound, the peer's events queued on one connection behind the
   *   `maxConcurrency` handlers running (so at most maxConcurrency + maxInFlight
   *   are held). It is sent to the peer in Hello, which caps its requests by it.
   * @default 1024
   */
  maxInFlight?: number | undefined;
  /** Handlers running at once per connection. @default 64 */
  maxConcurrency?: number | undefined;
  /**
   * Bodies of one connection's inbound events, queued or running, in bytes; past
   * it the connection is not read until handlers finish. @default 67108864
   */
  maxInboundBytes?: number | undefined;
  /**
   * The window each stream this node receives is granted (SPEC §12): the most of one
   * stream's body held here or on its way. At least 65536. @default 262144
   */
  streamWindowBytes?: number | undefined;
  /** The largest streamed body, either way, in bytes; 0: no limit. @default 0 */
  maxStreamBytes?: number | undefined;
  /** Streams one connection receives at once; more are refused with 503. @default 256 */
  maxStreams?: number | undefined;
  /** @default 10000 */
  handshakeTimeoutMs?: number | undefined;
  /** @default 5000 */
  helloTimeoutMs?: number | undefined;
  /**
   * Unflushed bytes past which new requests wait in a local queue (their deadlines
   * running) until the socket takes more. @default 16777216
   */
  maxPendingWriteBytes?: number | undefined;
  /** Send handler stack traces to the peer. @default false */
  exposeTracebacks?: boolean | undefined;
  logger?: Logger | undefined;
}

/** The knobs every node has, as validated numbers (flags of the same names on the CLIs). */
export interface PipeTuning {
  readonly heartbeatMs: number;
  readonly timeoutMs: number;
  readonly connectWaitMs: number;
  readonly maxEventBytes: number;
  readonly maxInFlight: number;
  readonly maxConcurrency: number;
  readonly maxInboundBytes: number;
  readonly streamWindowBytes: number;
  readonly maxStreamBytes: number;
  readonly maxStreams: number;
}

/** Just the PipeTuning fields of a larger object (a CLI config, say). */
export function tuningOf(source: PipeTuning): PipeTuning {
  const { heartbeatMs, timeoutMs, connectWaitMs, maxEventBytes, maxInFlight, maxConcurrency, maxInboundBytes } = source;
  const { streamWindowBytes, maxStreamBytes, maxStreams } = source;
  return { heartbeatMs, timeoutMs, connectWaitMs, maxEventBytes, maxInFlight, maxConcurrency, maxInboundBytes, streamWindowBytes, maxStreamBytes, maxStreams };
}

export interface ResolvedPipeOptions extends PipeTuning {
  readonly tls: TlsMaterial;
  readonly handshakeTimeoutMs: number;
  readonly helloTimeoutMs: number;
  readonly maxPendingWriteBytes: number;
  readonly exposeTracebacks: boolean;
}

/** Validates common options; one precise ConfigError per bad field. */
export function resolvePipeOptions(options: PipeOptions): ResolvedPipeOptions {
  if (!options || typeof options !== 'object') throw new ConfigError('options must be an object');
  requireTls(options.tls);
  return Object.freeze({
    tls: options.tls,
    heartbeatMs: positiveInt('heartbeatMs', options.heartbeatMs, DEFAULT_HEARTBEAT_MS),
    timeoutMs: positiveInt('timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS),
    connectWaitMs: nonNegativeInt('connectWaitMs', options.connectWaitMs, DEFAULT_CONNECT_WAIT_MS),
    maxEventBytes: positiveInt('maxEventBytes', options.maxEventBytes, DEFAULT_MAX_EVENT_BYTES),
    maxInFlight: positiveInt('maxInFlight', options.maxInFlight, DEFAULT_MAX_IN_FLIGHT),
    maxConcurrency: positiveInt('maxConcurrency', options.maxConcurrency, DEFAULT_MAX_CONCURRENCY),
    maxInboundBytes: positiveInt('maxInboundBytes', options.maxInboundBytes, DEFAULT_MAX_INBOUND_BYTES),
    streamWindowBytes: wholeNumber('streamWindowBytes', options.streamWindowBytes ?? DEFAULT_STREAM_WINDOW_BYTES, MIN_STREAM_WINDOW_BYTES, String(options.streamWindowBytes)),
    maxStreamBytes: nonNegativeInt('maxStreamBytes', options.maxStreamBytes, 0),
    maxStreams: positiveInt('maxStreams', options.maxStreams, DEFAULT_MAX_STREAMS),
    handshakeTimeoutMs: positiveInt('handshakeTimeoutMs', options.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS),
    helloTimeoutMs: positiveInt('helloTimeoutMs', options.helloTimeoutMs, DEFAULT_HELLO_TIMEOUT_MS),
    maxPendingWriteBytes: positiveInt('maxPendingWriteBytes', options.maxPendingWriteBytes, DEFAULT_MAX_PENDING_WRITE_BYTES),
    exposeTracebacks: options.exposeTracebacks ?? false,
  });
}

function requireTls(tls: TlsMaterial | undefined): void {
  if (!tls || typeof tls !== 'object') throw new ConfigError('tls: cert, key and ca are required');
  for (const field of ['cert', 'key', 'ca'] as const) {
    if (!tls[field]) throw new ConfigError(`tls.${field} is required`);
  }
  const min = tls.minVersion ?? 'TLSv1.3';
  if (min !== 'TLSv1.3' && min !== 'TLSv1.2') {
    throw new ConfigError(`tls.minVersion must be TLSv1.3 or TLSv1.2, got ${String(min)}`);
  }
}

/** The most a uint32 wire field can say; larger settings could not be advertised. */
const MAX_UINT32 = 0xffff_ffff;

/** The heartbeat interval, as the option and the CLI flag name it. */
const HEARTBEAT_LABEL = /^(?:heartbeatMs|--heartbeat-ms)$/;

/**
 * The one rule for a whole-number setting, an option here or a flag of the CLIs:
 * from `min` up to MAX_PEER_HEARTBEAT_MS for the heartbeat interval (`heartbeatMs`,
 * `--heartbeat-ms`: peers clamp a longer one from our Hello, and would declare an
 * idle node dead), a duration's MAX_MS (`label` names one: `timeoutMs`,
 * `--timeout-ms`) or else what a uint32 holds. `shown` is the value as it was
 * given, for the ConfigError that names `label`.
 */
export function wholeNumber(label: string, value: number, min: number, shown: string = String(value)): number {
  const max = HEARTBEAT_LABEL.test(label) ? MAX_PEER_HEARTBEAT_MS : /(?:Ms|-ms)$/.test(label) ? MAX_MS : MAX_UINT32;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${label} must be a whole number from ${min} to ${max}, got ${shown}`);
  }
  return value;
}

export function positiveInt(name: string, value: number | undefined, fallback: number): number {
  return wholeNumber(name, value ?? fallback, 1, String(value));
}

export function nonNegativeInt(name: string, value: number | undefined, fallback: number): number {
  return wholeNumber(name, value ?? fallback, 0, String(value));
}

/** Largest frame accepted: the event limit plus room for the frame's other fields. */
export function maxFrameBytes(maxEventBytes: number): number {
  return maxEventBytes + FRAME_OVERHEAD_BYTES;
}
