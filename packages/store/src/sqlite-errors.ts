/**
 * SQLite's errors, as restpipe's. better-sqlite3 throws a `SqliteError` whose `code`
 * is SQLite's extended result code name (`SQLITE_FULL`, `SQLITE_IOERR_WRITE`, ...);
 * the code is what we branch on, never the message.
 */
import { StoreError, StoreFullError } from '@restpipe/errors';

/** The SQLite result code name of `error` (`SQLITE_BUSY`, ...), or undefined when it is no SQLite error. */
export function sqliteCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

/** The primary result code: `SQLITE_IOERR_WRITE` is an `SQLITE_IOERR`. */
function primaryCode(code: string): string {
  const match = /^SQLITE_[A-Z]+/.exec(code);
  return match ? match[0] : code;
}

/**
 * Errors after which the transaction cannot go on: the disk, the file or the lock
 * failed, not the one write. A batch that meets one is rolled back whole.
 */
const FATAL = new Set([
  'SQLITE_FULL',
  'SQLITE_IOERR',
  'SQLITE_CORRUPT',
  'SQLITE_NOTADB',
  'SQLITE_READONLY',
  'SQLITE_CANTOPEN',
  'SQLITE_NOMEM',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_PERM',
  'SQLITE_PROTOCOL',
  'SQLITE_INTERRUPT',
  'SQLITE_ABORT',
]);

/** True when `error` dooms the whole transaction it happened in. */
export function isFatalSqliteError(error: unknown): boolean {
  const code = sqliteCode(error);
  return code !== undefined && FATAL.has(primaryCode(code));
}

/** True for SQLite's "database or disk is full". */
export function isDiskFull(error: unknown): boolean {
  const code = sqliteCode(error);
  return code !== undefined && primaryCode(code) === 'SQLITE_FULL';
}

/** `text` on one line: the CLI prints a StoreError's message as the one line it exits with. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, '; ').trim();
}

function detail(error: unknown): string {
  const message = oneLine(error instanceof Error ? error.message : String(error));
  const code = sqliteCode(error);
  return code ? `${message} (${code})` : message;
}

/**
 * `error` as a StoreError (StoreFullError for a full disk) whose message starts with
 * `context`; errors that are already restpipe's, or are no SQLite error, pass unchanged.
 */
export function toStoreError(error: unknown, context: string): unknown {
  if (error instanceof StoreError) return error;
  if (sqliteCode(error) === undefined) return error;
  const message = `${context}: ${detail(error)}`;
  return isDiskFull(error) ? new StoreFullError(message, { cause: error }) : new StoreError(message, { cause: error });
}

/** Why opening the database in `dir` failed, as one line that names `dir`. */
export function openFailure(error: unknown, dir: string, file: string): StoreError {
  if (error instanceof StoreError) return error;
  const code = sqliteCode(error);
  const primary = code === undefined ? undefined : primaryCode(code);
  const why = detail(error);
  if (primary === 'SQLITE_BUSY' || primary === 'SQLITE_LOCKED') {
    return new StoreError(`data directory ${dir} is in use by another process (${file} is locked)`, { cause: error });
  }
  if (primary === 'SQLITE_NOTADB' || primary === 'SQLITE_CORRUPT') {
    return new StoreError(`data directory ${dir}: ${file} is corrupt or not a restpipe database: ${why}`, { cause: error });
  }
  if (primary === 'SQLITE_FULL') return new StoreFullError(`data directory ${dir}: the disk is full: ${why}`, { cause: error });
  return new StoreError(`data directory ${dir}: cannot open ${file}: ${why}`, { cause: error });
}
