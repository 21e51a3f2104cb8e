import pino, { type Logger } from 'pino';

/** Never logged, wherever they appear in a record. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'apiKey',
  'key',
  'tls.key',
  '*.key',
  'cert',
  'ca',
  'crl',
];

/** One JSON line per record on stdout. */
export function createLogger(level: string, role: string): Logger {
  return pino({
    level,
    base: { role, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  });
}
