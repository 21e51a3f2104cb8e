import { ConfigError } from '@restpipe/wire';
import type { EventHandler } from './event-handler.js';
import type { Logger } from './logger.js';

export const DEFAULT_HEARTBEAT_MS = 5_000;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_CONNECT_WAIT_MS = 2_000;
export const DEFAULT_MAX_EVENT_BYTES = 4 * 1024 * 1024;
export const DEFAULT_MAX_IN_FLIGHT = 1_024;
export const DEFAULT_MAX_CONCURRENCY = 64;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_HELLO_TIMEOUT_MS = 5_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;
/** Room for a frame's own fields on top of its event data. */
export const FRAME_OVERHEAD_BYTES = 64 * 1024;
/** Past this much unread, a peer that makes no progress for a heartbeat interval is cut off. */
export const DEFAULT_MAX_PENDING_WRITE_BYTES = 16 * 1024 * 1024;
/** Past this many times `maxPendingWriteBytes` unread, a peer is cut off at once (256 MiB by default). */
export const SLOW_CONSUMER_HARD_FACTOR = 16;
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
  /** @default 5000 */
  heartbeatMs?: number | undefined;
  /** Default reply deadline. @default 30000 */
  timeoutMs?: number | undefined;
  /** How long a request waits for an absent peer. @default 2000 */
  connectWaitMs?: number | undefined;
  /** @default 4194304 */
  maxEventBytes?: number | undefined;
  /** Outstanding requests per connection and direction. @default 1024 */
  maxInFlight?: number | undefined;
  /** Handlers running at once per connection. @default 64 */
  maxConcurrency?: number | undefined;
  /** @default 10000 */
  handshakeTimeoutMs?: number | undefined;
  /** @default 5000 */
  helloTimeoutMs?: number | undefined;
  /** @default 16777216 */
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
}

/** Just the PipeTuning fields of a larger object (a CLI config, say). */
export function tuningOf(source: PipeTuning): PipeTuning {
  const { heartbeatMs, timeoutMs, connectWaitMs, maxEventBytes, maxInFlight, maxConcurrency } = source;
  return { heartbeatMs, timeoutMs, connectWaitMs, maxEventBytes, maxInFlight, maxConcurrency };
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

export function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v <= 0 || v > MAX_UINT32) {
    throw new ConfigError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return v;
}

export function nonNegativeInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 0 || v > MAX_UINT32) {
    throw new ConfigError(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return v;
}

/** Largest frame accepted: the event limit plus room for the frame's other fields. */
export function maxFrameBytes(maxEventBytes: number): number {
  return maxEventBytes + FRAME_OVERHEAD_BYTES;
}
