import { StatsD } from 'hot-shots';
import type { Logger } from '@restpipe/core';

/** Errors from an unreachable or unresolvable StatsD are logged at most this often. */
export const STATSD_ERROR_LOG_INTERVAL_MS = 60_000;
/** One UDP datagram's worth of lines, below common MTUs. */
const BUFFER_BYTES = 1_400;
const FLUSH_INTERVAL_MS = 200;

export interface StatsdTarget {
  host: string;
  port: number;
  /** `restpipe.server`, `restpipe.client`, ... */
  prefix: string;
}

/** Where metric values go. `null` when StatsD is off: nothing is sent at all. */
export interface StatsdSink {
  increment(name: string): void;
  gauge(name: string, value: number): void;
  timing(name: string, ms: number): void;
  close(): Promise<void>;
}

/**
 * hot-shots over UDP: sends never block and never throw into the pipe. Lines
 * are batched into datagrams; errors are logged once a minute at most.
 */
export function createStatsdSink(target: StatsdTarget, logger: Logger): StatsdSink {
  let lastLogged = -Infinity;
  let suppressed = 0;
  const onError = (error: Error): void => {
    const now = Date.now();
    if (now - lastLogged < STATSD_ERROR_LOG_INTERVAL_MS) {
      suppressed += 1;
      return;
    }
    logger.warn({ statsd: `${target.host}:${target.port}`, err: error.message, suppressed }, 'statsd send failed (metrics only; the pipe is unaffected)');
    lastLogged = now;
    suppressed = 0;
  };
  const client = new StatsD({
    host: target.host,
    port: target.port,
    prefix: `${target.prefix}.`,
    cacheDns: true,
    maxBufferSize: BUFFER_BYTES,
    bufferFlushInterval: FLUSH_INTERVAL_MS,
    includeDataDogTags: false,
    errorHandler: onError,
  });
  const guard = (send: () => void): void => {
    try {
      send();
    } catch (error) {
      onError(error as Error);
    }
  };
  return {
    increment: (name) => guard(() => client.increment(name)),
    gauge: (name, value) => guard(() => client.gauge(name, value)),
    timing: (name, ms) => guard(() => client.timing(name, ms)),
    close: () => new Promise<void>((resolve) => client.close(() => resolve())),
  };
}
