import pino, { type Logger } from 'pino';
import type { Logger as CoreLogger } from '@restpipe/core';
import { EventLines } from './event-lines.js';
import { BatchedStdout } from './log-destination.js';

/** Never logged, wherever they appear in a record. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'apiKey',
  'signingKeys',
  '*.signingKeys',
  'key',
  'tls.key',
  '*.key',
  'cert',
  'ca',
  'crl',
];

export interface Logs {
  /** Everything but the per-event lines; secrets are redacted. */
  logger: Logger;
  /**
   * The per-event lines (`event done`, `event handled`, ...), in the same format
   * and stream: fixed fields that never hold a secret (see EventLines).
   */
  events: CoreLogger;
}

let lastMs = -1;
let lastTime = '';

/** pino's `isoTime`, formatted once per millisecond: a busy node writes many lines in each. */
export function isoTimeOncePerMs(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

/**
 * One JSON line per record on stdout, the lines of each event-loop turn in one
 * write (BatchedStdout); whatever is still buffered is written when the process exits.
 */
export function createLogs(level: string, role: string): Logs {
  const destination = new BatchedStdout(1);
  process.once('exit', () => destination.flushSync());
  const base = { role, pid: process.pid };
  return {
    logger: pino({ level, base, timestamp: isoTimeOncePerMs, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination),
    events: new EventLines(destination, level, base, isoTimeOncePerMs),
  };
}
