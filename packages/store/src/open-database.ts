/**
 * Opening the data directory's database: the directory, the file, the pragmas that make
 * an acknowledged write durable, and the lock that keeps a second process out.
 *
 * The lock is SQLite's own: `locking_mode=EXCLUSIVE` set before the first access of a WAL
 * database makes the connection take an exclusive lock on the database file (a POSIX
 * `fcntl` lock) at that first access and hold it until it closes. Another process, or
 * another connection in this one, then gets SQLITE_BUSY at open. The kernel drops an
 * `fcntl` lock with the process that held it, so a `kill -9` leaves no stale lock, unlike
 * a pid file. In this mode SQLite keeps the WAL index in heap memory, not in a `-shm`
 * file mapped into memory, which is also one mmap less to fault on a full disk.
 */
import { accessSync, closeSync, constants, fsyncSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { StoreError } from '@restpipe/errors';
import { migrate } from './migrations.js';
import type { ResolvedStoreOptions } from './options.js';
import { oneLine, openFailure } from './sqlite-errors.js';

export const DATABASE_FILE = 'restpipe.db';

/** SQLite's number for `synchronous=FULL`: the WAL is fsynced at every commit. */
const SYNCHRONOUS_FULL = 2;

export interface OpenedDatabase {
  readonly db: Database.Database;
  readonly dir: string;
  readonly file: string;
  /** The schema version the file was at before this open migrated it (0: new). */
  readonly migratedFrom: number;
}

function fsyncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Creates `dir` (mode 0700) if it is missing, durably; refuses one we cannot write. */
function ensureDir(dir: string): void {
  try {
    if (!statSync(dir, { throwIfNoEntry: false })) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      fsyncDir(dirname(dir));
    }
  } catch (error) {
    throw new StoreError(`data directory ${dir} cannot be created: ${oneLine((error as Error).message)}`, { cause: error });
  }
  if (!statSync(dir).isDirectory()) throw new StoreError(`data directory ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new StoreError(`data directory ${dir} is not writable: ${oneLine((error as Error).message)}`, { cause: error });
  }
}

function expectPragma(db: Database.Database, dir: string, name: string, set: string, want: unknown): void {
  const got: unknown = db.pragma(set, { simple: true });
  const readBack: unknown = set === name ? got : db.pragma(name, { simple: true });
  if (readBack !== want) {
    throw new StoreError(`data directory ${dir}: SQLite refused ${name}=${String(want)} (it is ${String(readBack)})`);
  }
}

/** The pragmas, in the order that matters: the lock mode before the first access. */
function configure(db: Database.Database, dir: string, options: ResolvedStoreOptions): void {
  expectPragma(db, dir, 'locking_mode', 'locking_mode = EXCLUSIVE', 'exclusive');
  // The first access: takes the exclusive lock, or fails with SQLITE_BUSY.
  expectPragma(db, dir, 'journal_mode', 'journal_mode = WAL', 'wal');
  expectPragma(db, dir, 'synchronous', `synchronous = FULL`, SYNCHRONOUS_FULL);
  // Checkpoints run between commits (see checkpoint.ts): one inside COMMIT could fail it after the data was safe.
  expectPragma(db, dir, 'wal_autocheckpoint', 'wal_autocheckpoint = 0', 0);
  expectPragma(db, dir, 'busy_timeout', `busy_timeout = ${options.busyTimeoutMs}`, options.busyTimeoutMs);
  if (options.maxBytes > 0) limitSize(db, options.maxBytes);
  // A write transaction, so the lock is the writer's too, even on a file with nothing to migrate.
  db.exec('BEGIN IMMEDIATE; COMMIT');
}

/** SQLite answers SQLITE_FULL past `max_page_count` pages, as it does on a full disk. */
function limitSize(db: Database.Database, maxBytes: number): void {
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.pragma(`max_page_count = ${Math.max(1, Math.floor(maxBytes / pageSize))}`);
}

function integrityCheck(db: Database.Database, dir: string, file: string): void {
  const rows = db.pragma('quick_check(3)') as { quick_check: string }[];
  const verdict = oneLine(rows.map((r) => r.quick_check).join('\n') || 'no answer');
  if (verdict !== 'ok') throw new StoreError(`data directory ${dir}: ${file} is corrupt: ${verdict}`);
}

/**
 * Opens (creating if need be) `DIR/restpipe.db`, locked for this connection alone,
 * with `journal_mode=WAL` and `synchronous=FULL` read back, at the latest schema.
 * Every failure is a StoreError with one line that names `dir`.
 */
export function openDatabase(dirIn: string, options: ResolvedStoreOptions): OpenedDatabase {
  const dir = resolve(dirIn);
  ensureDir(dir);
  const file = join(dir, DATABASE_FILE);
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: options.busyTimeoutMs });
  } catch (error) {
    throw openFailure(error, dir, file);
  }
  try {
    configure(db, dir, options);
    if (options.integrityCheck) integrityCheck(db, dir, file);
    const migratedFrom = migrate(db, file, options.clock());
    return { db, dir, file, migratedFrom };
  } catch (error) {
    db.close();
    throw openFailure(error, dir, file);
  }
}
