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
  readonly #freeBytes: () => number | undefined;
  readonly #onCheckpoint: () => void;
  #scheduled = false;
  #closed = false;
  #count = 0;

  /**
   * `freeBytes`: the disk's free space. A checkpoint needs as much again as the WAL holds
   * (the pages are copied before the WAL is cut), so on a small disk it runs early, while
   * the WAL is under half the free space, rather than only past `walBytes`.
   */
  constructor(db: Database.Database, file: string, walBytes: number, context: string, onWarning: (error: unknown) => void, freeBytes: () => number | undefined = () => undefined, onCheckpoint: () => void = () => {}) {
    this.#freeBytes = freeBytes;
    this.#onCheckpoint = onCheckpoint;
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

  /** The WAL's size in bytes, as of the last commit or checkpoint (no syscall per call). */
  get walBytes(): number {
    return this.#lastWalBytes;
  }

  #lastWalBytes = 0;

  #statWal(): number {
    return (this.#lastWalBytes = statSync(this.#walFile, { throwIfNoEntry: false })?.size ?? 0);
  }

  /** Schedules a checkpoint now if the WAL holds anything: the disk is short, and it gives space back. */
  request(): void {
    if (this.#scheduled || this.#closed || this.#statWal() === 0) return;
    this.#scheduled = true;
    setImmediate(this.#run);
  }

  /** After a commit: schedules a checkpoint if the WAL has grown past the threshold. */
  afterCommit(): void {
    if (this.#scheduled || this.#closed) return;
    const size = this.#statWal();
    if (size <= this.#walBytes && !(size > 0 && size * 2 > (this.#freeBytes() ?? Infinity))) return;
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
      this.#statWal();
      this.#onCheckpoint();
    } catch (error) {
      this.#onWarning(toStoreError(error, `${this.#context}: checkpoint`));
    }
  };
}
