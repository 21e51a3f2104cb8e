/**
 * WAL checkpoints, run by us rather than by SQLite. SQLite's automatic checkpoint runs
 * inside the COMMIT that crosses its threshold, and a checkpoint that fails there (a full
 * disk) makes that COMMIT report an error although its data is already safe in the WAL:
 * the callers would be told "failed" about writes that happened. So `wal_autocheckpoint`
 * is 0, and this checkpoints on the next turn after a commit that left the WAL past
 * `walBytes`; its failure fails no write and is only reported.
 */
import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { toStoreError } from './sqlite-errors.js';

export class Checkpointer {
  readonly #db: Database.Database;
  readonly #walFile: string;
  readonly #walBytes: number;
  readonly #context: string;
  readonly #onWarning: (error: unknown) => void;
  #scheduled = false;
  #closed = false;
  #count = 0;

  constructor(db: Database.Database, file: string, walBytes: number, context: string, onWarning: (error: unknown) => void) {
    this.#db = db;
    this.#walFile = `${file}-wal`;
    this.#walBytes = walBytes;
    this.#context = context;
    this.#onWarning = onWarning;
  }

  /** Checkpoints run so far. */
  get count(): number {
    return this.#count;
  }

  /** After a commit: schedules a checkpoint if the WAL has grown past the threshold. */
  afterCommit(): void {
    if (this.#scheduled || this.#closed) return;
    const size = statSync(this.#walFile, { throwIfNoEntry: false })?.size ?? 0;
    if (size <= this.#walBytes) return;
    this.#scheduled = true;
    setImmediate(this.#run);
  }

  close(): void {
    this.#closed = true;
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    if (this.#closed || !this.#db.open || this.#db.inTransaction) return;
    try {
      // TRUNCATE: copy the WAL into the database, then cut the WAL to 0 bytes.
      this.#db.pragma('wal_checkpoint(TRUNCATE)');
      this.#count += 1;
    } catch (error) {
      this.#onWarning(toStoreError(error, `${this.#context}: checkpoint`));
    }
  };
}
