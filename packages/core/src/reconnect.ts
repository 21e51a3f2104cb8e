import pRetry from 'p-retry';
import { ConfigError } from '@restpipe/wire';
import { positiveInt, RECONNECT_FACTOR, RECONNECT_MAX_MS, RECONNECT_MIN_MS } from './options.js';

export interface BackoffOptions {
  /** First retry delay before jitter. @default 250 */
  minMs?: number | undefined;
  /** Cap on any delay. @default 30000 */
  maxMs?: number | undefined;
  /** @default 2 */
  factor?: number | undefined;
}

export interface AttemptInfo {
  /** 1 for the first try of this round. */
  attempt: number;
  /** Time since the previous attempt failed (0 for the first). */
  delayMs: number;
}

export interface RetryRound<T> {
  backoff: BackoffOptions;
  signal: AbortSignal;
  /** Runs one attempt. Throwing makes p-retry back off and call it again. */
  attempt(info: AttemptInfo): Promise<T>;
  onFailed(error: Error, attempt: number): void;
}

/**
 * One round of attempts until one succeeds or the signal aborts: exponential
 * backoff (factor 2 from 250 ms, capped at 30 s), each delay randomized by p-retry
 * (x1 to x2). A new round starts from the minimum again, which is how the
 * delay resets after a HelloAck.
 */
export function retryForever<T>(round: RetryRound<T>): Promise<T> {
  let failedAt: number | undefined;
  return pRetry(
    async (attempt) => {
      const delayMs = failedAt === undefined ? 0 : performance.now() - failedAt;
      try {
        return await round.attempt({ attempt, delayMs });
      } catch (error) {
        failedAt = performance.now();
        // p-retry stops on TypeError; every failed dial must be retried.
        throw error instanceof TypeError ? new Error(error.message, { cause: error }) : error;
      }
    },
    {
      retries: Infinity,
      factor: round.backoff.factor ?? RECONNECT_FACTOR,
      minTimeout: round.backoff.minMs ?? RECONNECT_MIN_MS,
      maxTimeout: round.backoff.maxMs ?? RECONNECT_MAX_MS,
      randomize: true,
      signal: round.signal,
      onFailedAttempt: ({ error, attemptNumber }) => round.onFailed(error, attemptNumber),
    },
  );
}

/** Checks the `reconnect` option: delays from 1 ms to MAX_MS, min not above max, a factor of at least 1. */
export function resolveBackoff(backoff: BackoffOptions | undefined): BackoffOptions {
  if (backoff === undefined) return {};
  if (typeof backoff !== 'object' || backoff === null) throw new ConfigError('reconnect must be an object');
  const minMs = positiveInt('reconnect.minMs', backoff.minMs, RECONNECT_MIN_MS);
  const maxMs = positiveInt('reconnect.maxMs', backoff.maxMs, Math.max(minMs, RECONNECT_MAX_MS));
  if (minMs > maxMs) throw new ConfigError(`reconnect.minMs (${minMs}) must not be above reconnect.maxMs (${maxMs})`);
  const factor = backoff.factor ?? RECONNECT_FACTOR;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1) {
    throw new ConfigError(`reconnect.factor must be a number of at least 1, got ${String(backoff.factor)}`);
  }
  return { minMs, maxMs, factor };
}

/** Resolves after `ms`, or at once when the signal aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
