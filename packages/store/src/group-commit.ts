/**
 * Group commit: every write asked for in one event-loop turn runs in one transaction,
 * committed (and, with `synchronous=FULL`, fsynced) once at the end of the turn
 * (`setImmediate`). Each write's promise settles only after that COMMIT has returned:
 * never one fsync per write, and never an answer before the fsync.
 *
 * Each write runs in a savepoint of its own: a write that throws (a constraint, a bad
 * argument) is undone and rejects alone. An error that dooms the transaction (a full
 * disk, an I/O error) rolls the whole batch back and rejects every write in it, so
 * nothing of it is kept. No timer runs while nothing is queued.
 */
import type Database from 'better-sqlite3';
import { StoreError } from '@restpipe/errors';
import { isFatalSqliteError, toStoreError } from './sqlite-errors.js';

/** A write: runs inside the batch's transaction, synchronously; its return value resolves its promise. */
export type WriteFn<T> = () => T;

interface PendingWrite {
  readonly run: WriteFn<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: unknown };

export interface CommitStats {
  /** Transactions committed. */
  readonly commits: number;
  /** Writes that were in committed transactions (those that rejected alone included). */
  readonly writes: number;
  /** Transactions rolled back whole. */
  readonly failedCommits: number;
  /** The most writes one transaction carried. */
  readonly largestBatch: number;
}

export class GroupCommit {
  readonly #db: Database.Database;
  readonly #context: string;
  readonly #afterCommit: () => void;
  readonly #sql: Record<'begin' | 'commit' | 'rollback' | 'savepoint' | 'release' | 'rollbackTo', Database.Statement>;
  #queue: PendingWrite[] = [];
  #scheduled = false;
  #closed = false;
  #stats = { commits: 0, writes: 0, failedCommits: 0, largestBatch: 0 };

  /** `context` starts the message of every error (`data directory DIR`); `afterCommit` runs after each commit. */
  constructor(db: Database.Database, context: string, afterCommit: () => void = () => {}) {
    this.#db = db;
    this.#context = context;
    this.#afterCommit = afterCommit;
    this.#sql = {
      begin: db.prepare('BEGIN'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      savepoint: db.prepare('SAVEPOINT w'),
      release: db.prepare('RELEASE w'),
      rollbackTo: db.prepare('ROLLBACK TO w'),
    };
  }

  get stats(): CommitStats {
    return { ...this.#stats };
  }

  /** Writes queued for the end of this turn. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Queues `run` for this turn's transaction; resolves with its result once that transaction is durable. */
  write<T>(run: WriteFn<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StoreError(`${this.#context}: the store is closed`));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#flush);
      }
    });
  }

  /** Commits what is queued now, synchronously; then refuses further writes. */
  close(): void {
    this.#flush();
    this.#closed = true;
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    const batch = this.#queue;
    if (batch.length === 0) return;
    this.#queue = [];
    let outcomes: Outcome[];
    try {
      outcomes = this.#runBatch(batch);
    } catch (error) {
      this.#abort(batch, error);
      return;
    }
    this.#stats.commits += 1;
    this.#stats.writes += batch.length;
    this.#stats.largestBatch = Math.max(this.#stats.largestBatch, batch.length);
    batch.forEach((write, i) => settle(write, outcomes[i]!));
    this.#afterCommit();
  };

  /** One transaction for the whole batch; throws (having rolled nothing back yet) if it cannot commit. */
  #runBatch(batch: readonly PendingWrite[]): Outcome[] {
    this.#sql.begin.run();
    const outcomes = batch.map((write) => this.#runOne(write));
    this.#sql.commit.run();
    return outcomes;
  }

  #runOne(write: PendingWrite): Outcome {
    this.#sql.savepoint.run();
    try {
      const value = write.run();
      if (isThenable(value)) throw new TypeError('a store write must be synchronous: it returned a promise');
      this.#sql.release.run();
      return { ok: true, value };
    } catch (error) {
      if (isFatalSqliteError(error)) throw error;
      this.#sql.rollbackTo.run();
      this.#sql.release.run();
      return { ok: false, error: toStoreError(error, this.#context) };
    }
  }

  #abort(batch: readonly PendingWrite[], cause: unknown): void {
    this.#stats.failedCommits += 1;
    // SQLite rolls back by itself after some errors (SQLITE_FULL among them); otherwise we do.
    try {
      if (this.#db.inTransaction) this.#sql.rollback.run();
    } catch {
      // The rollback's own failure adds nothing: the batch is lost either way, and reported below.
    }
    const error = toStoreError(cause, this.#context);
    for (const write of batch) write.reject(error);
  }
}

function settle(write: PendingWrite, outcome: Outcome): void {
  if (outcome.ok) write.resolve(outcome.value);
  else write.reject(outcome.error);
}

function isThenable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
