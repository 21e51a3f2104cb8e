/**
 * The nonces of signed gateway requests (SPEC §10) on disk, so that a restart does not
 * forget one whose request could still be replayed. The gateway keeps them in memory
 * too, bounded; this is what a new process starts from. Reads are synchronous; `add`
 * resolves once its insert is committed (fsynced), with the group commit's other writes.
 */
import type Database from 'better-sqlite3';
import type { GroupCommit } from './group-commit.js';

/** Expired nonces deleted with each insert: the table never holds much more than the live ones. */
const PRUNE_PER_ADD = 16;

function prepareAll(db: Database.Database) {
  return {
    live: db.prepare(`SELECT 1 FROM nonces WHERE key = ? AND expires_at > ?`).pluck(),
    add: db.prepare(`INSERT INTO nonces (key, expires_at) VALUES (@key, @expires_at)
      ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at <= @now`),
    prune: db.prepare(`DELETE FROM nonces WHERE key IN (SELECT key FROM nonces INDEXED BY nonces_expiry WHERE expires_at <= ? LIMIT ${PRUNE_PER_ADD})`),
  };
}

export class NonceJournal {
  readonly #sql: ReturnType<typeof prepareAll>;
  readonly #writes: GroupCommit;
  readonly #clock: () => number;

  constructor(db: Database.Database, writes: GroupCommit, clock: () => number) {
    this.#sql = prepareAll(db);
    this.#writes = writes;
    this.#clock = clock;
  }

  /** Whether `key` was stored and has not expired. */
  has(key: string): boolean {
    return this.#sql.live.get(key, this.#clock()) !== undefined;
  }

  /** Stores `key` until `expiresAt` (ms); resolves false if a live one is there already (a replay). */
  add(key: string, expiresAt: number): Promise<boolean> {
    const now = this.#clock();
    return this.#writes.write(() => {
      this.#sql.prune.run(now);
      return this.#sql.add.run({ key, expires_at: expiresAt, now }).changes === 1;
    });
  }
}
