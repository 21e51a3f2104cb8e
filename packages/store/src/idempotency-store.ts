/**
 * The receiving side's idempotency records (SPEC §8): a key is recorded as `started`,
 * durably, before its handler runs, and its reply after. Keys are scoped per sending
 * peer. A `started` key that an earlier boot of this store left behind was running when
 * the node died: it is `indeterminate` and must never run again.
 *
 * Reads see committed records only. `begin` answers from them at once when the key is
 * known; a new key goes through the group commit, and is decided again inside that
 * transaction, so that two begins of one key in one turn cannot both be `new`.
 */
import type Database from 'better-sqlite3';
import { InvalidArgumentError } from '@restpipe/errors';
import type { GroupCommit } from './group-commit.js';
import { asBuffer } from './job-rows.js';

/** A reply as kept for replay. `kind` is the wire's ReplyKind (0 value, 1 exception). */
export interface StoredReply {
  readonly kind: number;
  readonly status: number;
  readonly returnCode: number;
  readonly mimeType: string;
  readonly body: Uint8Array;
}

export type BeginOutcome =
  /** Recorded as started, durably: run the handler, then `finish`. */
  | { readonly state: 'new' }
  /** The first request with this key still runs in this node (409 IdempotencyKeyInUseError). */
  | { readonly state: 'started' }
  /** The first request was running when an earlier boot died: never run it (500 IndeterminateError). */
  | { readonly state: 'indeterminate' }
  /** The key was used for another request (422 IdempotencyKeyMismatchError). */
  | { readonly state: 'mismatch' }
  /** Finished: answer with the stored reply (`Idempotent-Replayed: true`). */
  | { readonly state: 'done'; readonly reply: StoredReply };

interface Row {
  fingerprint: string;
  state: 'started' | 'done';
  started_by: string;
  reply_kind: number | null;
  reply_status: number | null;
  reply_return_code: number | null;
  reply_mime_type: string | null;
  reply_body: Buffer | null;
  expires_at: number;
}

function prepareAll(db: Database.Database) {
  return {
    get: db.prepare(`SELECT fingerprint, state, started_by, reply_kind, reply_status, reply_return_code, reply_mime_type,
      reply_body, expires_at FROM idempotency WHERE peer = ? AND key = ?`),
    // REPLACE: an expired record that prune has not reached yet is overwritten.
    start: db.prepare(`INSERT OR REPLACE INTO idempotency (peer, key, fingerprint, state, started_by, created_at, expires_at)
      VALUES (@peer, @key, @fingerprint, 'started', @boot, @now, @expires_at)`),
    finish: db.prepare(`UPDATE idempotency SET state = 'done', reply_kind = @kind, reply_status = @status,
      reply_return_code = @return_code, reply_mime_type = @mime_type, reply_body = @body
      WHERE peer = @peer AND key = @key AND state = 'started'`),
    prune: db.prepare(`DELETE FROM idempotency WHERE expires_at <= @now AND (state = 'done' OR started_by <> @boot)`),
    abandon: db.prepare(`DELETE FROM idempotency WHERE peer = @peer AND key = @key AND state = 'started' AND started_by = @boot`),
  };
}

function checkReply(reply: StoredReply): void {
  const ints = [reply.kind, reply.status, reply.returnCode];
  if (!ints.every((n) => Number.isInteger(n) && n >= 0)) throw new InvalidArgumentError('reply kind, status and returnCode must be whole numbers');
  if (typeof reply.mimeType !== 'string') throw new InvalidArgumentError('reply mimeType must be a string');
  if (!(reply.body instanceof Uint8Array)) throw new InvalidArgumentError('reply body must be a Uint8Array');
}

export class IdempotencyStore {
  readonly #sql: ReturnType<typeof prepareAll>;
  readonly #writes: GroupCommit;
  readonly #clock: () => number;
  readonly #ttlMs: number;
  readonly #bootId: string;

  /** Made by `Store.open`; use `store.idempotency`. */
  constructor(db: Database.Database, writes: GroupCommit, clock: () => number, ttlMs: number, bootId: string) {
    this.#sql = prepareAll(db);
    this.#writes = writes;
    this.#clock = clock;
    this.#ttlMs = ttlMs;
    this.#bootId = bootId;
  }

  /** Ms a key is kept after its first request. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /**
   * Claims `key` of `peer` for a request with `fingerprint` (see `requestFingerprint`).
   * Resolves `new` only once the claim is committed.
   */
  begin(peer: string, key: string, fingerprint: string): Promise<BeginOutcome> {
    const now = this.#clock();
    const known = this.#classify(peer, key, fingerprint, now);
    if (known) return Promise.resolve(known);
    return this.#writes.write((): BeginOutcome => {
      const raced = this.#classify(peer, key, fingerprint, now);
      if (raced) return raced;
      this.#sql.start.run({ peer, key, fingerprint, boot: this.#bootId, now, expires_at: now + this.#ttlMs });
      return { state: 'new' };
    });
  }

  /** Stores the reply of a started key; resolves false when the key was not started (or is gone). */
  finish(peer: string, key: string, reply: StoredReply): Promise<boolean> {
    try {
      checkReply(reply);
    } catch (error) {
      return Promise.reject(error);
    }
    const params = {
      peer,
      key,
      kind: reply.kind,
      status: reply.status,
      return_code: reply.returnCode,
      mime_type: reply.mimeType,
      body: asBuffer(reply.body),
    };
    return this.#writes.write(() => this.#sql.finish.run(params).changes === 1);
  }

  /**
   * Forgets a key started in this boot whose request ended without having run anything (its
   * hold could not be kept, say): a repeat is then new again, not "in use" or indeterminate.
   * Resolves whether there was such a key.
   */
  abandon(peer: string, key: string): Promise<boolean> {
    return this.#writes.write(() => this.#sql.abandon.run({ peer, key, boot: this.#bootId }).changes === 1);
  }

  /**
   * Deletes the records whose TTL ran out by `now`; resolves how many. A key started in this
   * boot is kept while it runs, however long, so that it never runs twice at once.
   */
  prune(now: number): Promise<number> {
    return this.#writes.write(() => this.#sql.prune.run({ now, boot: this.#bootId }).changes);
  }

  /** What `begin` would answer from the committed record, or undefined for a key it would claim. */
  peek(peer: string, key: string, fingerprint: string): BeginOutcome | undefined {
    return this.#classify(peer, key, fingerprint, this.#clock());
  }

  #classify(peer: string, key: string, fingerprint: string, now: number): BeginOutcome | undefined {
    const row = this.#sql.get.get(peer, key) as Row | undefined;
    if (!row) return undefined;
    const ours = row.state === 'started' && row.started_by === this.#bootId;
    if (row.expires_at <= now && !ours) return undefined;
    if (row.fingerprint !== fingerprint) return { state: 'mismatch' };
    if (row.state === 'started') return { state: ours ? 'started' : 'indeterminate' };
    return {
      state: 'done',
      reply: {
        kind: row.reply_kind ?? 0,
        status: row.reply_status ?? 0,
        returnCode: row.reply_return_code ?? 0,
        mimeType: row.reply_mime_type ?? '',
        body: row.reply_body ?? Buffer.alloc(0),
      },
    };
  }
}
