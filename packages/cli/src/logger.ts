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
  const destination = pino.destination({ dest: 1, sync: true });
  // stdout closed under us (a pipe reader gone): drop the lines, never the process.
  destination.on('error', () => {});
  return pino({
    level,
    base: { role, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  }, destination);
}
