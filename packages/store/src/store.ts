/**
 * The node's durable store: one SQLite file in its data directory, owned by this process
 * alone, written through one group commit, read synchronously.
 *
 * Reads see committed data only: a transaction exists only inside the group commit's
 * flush, which runs start to COMMIT within one synchronous call, so no read can happen
 * while one is open. A write is invisible until its promise resolves.
 * An idle store arms no timer: `setImmediate` is used only when a write is queued.
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { StoreFullError } from '@restpipe/errors';
import { Checkpointer } from './checkpoint.js';
import { DiskRoom } from './disk-room.js';
import { GroupCommit, type CommitStats } from './group-commit.js';
import { HoldStore } from './hold-store.js';
import { IdempotencyRecorder } from './idempotency-record.js';
import { IdempotencyStore } from './idempotency-store.js';
import { JobStore, type DiskCheck } from './job-store.js';
import { NonceJournal } from './nonce-journal.js';
import { LATEST_SCHEMA_VERSION } from './migrations.js';
import { openDatabase } from './open-database.js';
import { resolveStoreOptions, type ResolvedStoreOptions, type StoreOptions } from './options.js';

export interface StoreStats extends CommitStats {
  /** Writes queued for the end of this turn. */
  readonly pending: number;
  /** WAL checkpoints run. */
  readonly checkpoints: number;
}

export interface StoreSettings {
  /** `wal`. */
  readonly journalMode: string;
  /** `full`: every commit is fsynced. */
  readonly synchronous: string;
  /** `exclusive`: this process alone holds the file. */
  readonly lockingMode: string;
  readonly schemaVersion: number;
  readonly maxPageCount: number;
  readonly pageSize: number;
}

const SYNCHRONOUS_NAMES: Record<number, string> = { 0: 'off', 1: 'normal', 2: 'full', 3: 'extra' };

export class Store {
  /** The data directory, absolute. */
  readonly dir: string;
  /** `DIR/restpipe.db`. */
  readonly file: string;
  /** Unique to this open: what marks the idempotency keys this boot started. */
  readonly bootId: string;
  /** The schema version the file was at before this open (0: it was new). */
  readonly migratedFrom: number;
  readonly jobs: JobStore;
  readonly idempotency: IdempotencyStore;
  /** The approval holds this node keeps for its peers (SPEC §9). */
  readonly holds: HoldStore;
  /** The nonces of signed gateway requests (SPEC §10), so that a restart forgets none. */
  readonly nonces: NonceJournal;
  readonly #db: Database.Database;
  readonly #writes: GroupCommit;
  readonly #checkpointer: Checkpointer;
  #closed = false;

  private constructor(dir: string, file: string, db: Database.Database, migratedFrom: number, resolved: ResolvedStoreOptions) {
    const context = `data directory ${dir}`;
    this.dir = dir;
    this.file = file;
    this.bootId = randomUUID();
    this.migratedFrom = migratedFrom;
    this.#db = db;
    const room = new DiskRoom(dir, resolved.reserveBytes);
    this.#checkpointer = new Checkpointer(db, file, resolved.checkpointWalBytes, context, resolved.onWarning, () => room.free(), () => room.forget());
    this.#writes = new GroupCommit(db, context, () => this.#checkpointer.afterCommit());
    const check: DiskCheck = {
      checkNew: (bytes) => {
        if (!room.short(bytes, this.#checkpointer.walBytes)) return;
        this.#checkpointer.request(); // a WAL copied back gives its space back: the next job may fit
        throw new StoreFullError(`${context}: the disk is nearly full: the last ${room.reserveBytes} bytes are kept for the jobs already accepted`);
      },
      resultFits: (bytes) => !room.short(bytes, this.#checkpointer.walBytes, 0.5),
    };
    this.jobs = new JobStore(db, this.#writes, resolved.clock, check);
    this.nonces = new NonceJournal(db, this.#writes, resolved.clock);
    this.idempotency = new IdempotencyStore(db, this.#writes, resolved.clock, resolved.idempotencyTtlMs, this.bootId);
    const records = new IdempotencyRecorder(db, resolved.idempotencyTtlMs, this.bootId);
    this.holds = new HoldStore(db, this.#writes, resolved.clock, check, records);
  }

  /**
   * Opens the store in `dir`, creating the directory (mode 0700) and the database if need
   * be, and migrating it to the latest schema. Throws StoreError, with one line naming the
   * directory, when the directory is held by another process (or another Store here), is
   * unwritable, or holds a corrupt, foreign or newer database; ConfigError for a bad option.
   */
  static open(dir: string, options: StoreOptions = {}): Store {
    const resolved = resolveStoreOptions(options);
    const opened = openDatabase(dir, resolved);
    try {
      return new Store(opened.dir, opened.file, opened.db, opened.migratedFrom, resolved);
    } catch (error) {
      opened.db.close();
      throw error;
    }
  }

  /** The schema version this restpipe writes. */
  static get schemaVersion(): number {
    return LATEST_SCHEMA_VERSION;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The pragmas that make this store what it is, read back from SQLite now. */
  get settings(): StoreSettings {
    const read = (name: string): unknown => this.#db.pragma(name, { simple: true });
    return {
      journalMode: String(read('journal_mode')),
      synchronous: SYNCHRONOUS_NAMES[read('synchronous') as number] ?? String(read('synchronous')),
      lockingMode: String(read('locking_mode')),
      schemaVersion: read('user_version') as number,
      maxPageCount: read('max_page_count') as number,
      pageSize: read('page_size') as number,
    };
  }

  get stats(): StoreStats {
    return { ...this.#writes.stats, pending: this.#writes.pending, checkpoints: this.#checkpointer.count };
  }

  /**
   * Runs `fn` inside this turn's group-commit transaction, after the writes queued before
   * it; resolves with its result once that transaction is committed. `fn` must be
   * synchronous. If it throws, its own changes are undone and only its promise rejects.
   * `await store.commit(() => undefined)` is a barrier: everything asked before is durable.
   */
  commit<T>(fn: () => T): Promise<T> {
    return this.#writes.write(fn);
  }

  /**
   * Commits what is queued (those promises settle), then closes the file and releases the
   * directory. Idempotent; later writes reject with StoreError.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writes.close();
    this.#checkpointer.close();
    this.#db.close();
  }
}
