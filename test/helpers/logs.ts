import type { Logger } from '@restpipe/core';

export interface LogRecord {
  level: string;
  msg: string;
  [key: string]: unknown;
}

/** A Logger that keeps its records, as pino would write them. */
export function memoryLogger(): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: string) => (obj: object, msg = ''): void => {
    records.push({ level, msg, ...obj });
  };
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
