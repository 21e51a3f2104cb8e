/**
 * Sets a receiving node's idempotency record to a reply from inside a write another store
 * has opened: a hold's outcome (or its "held" reply) and the record of its key change in
 * one transaction, so that a repeat of the key is answered with what the hold says even if
 * the node dies right after. Synchronous, no commit of its own: call it only inside a
 * group-commit write.
 */
import type Database from 'better-sqlite3';
import type { StoredReply } from './idempotency-store.js';
import { asBuffer } from './job-rows.js';

export interface RecordDone {
  readonly peer: string;
  readonly key: string;
  /** The request the record answers for (see `requestFingerprint`). */
  readonly fingerprint: string;
  readonly reply: StoredReply;
  readonly now: number;
  /** Keep the record at least until then (a hold's expiry), besides the TTL from now. */
  readonly keepUntil?: number;
}

export class IdempotencyRecorder {
  readonly #upsert: Database.Statement;
  readonly #ttlMs: number;
  readonly #bootId: string;

  constructor(db: Database.Database, ttlMs: number, bootId: string) {
    // A record never shortens: a later reply keeps the record at least as long as the first asked.
    this.#upsert = db.prepare(`INSERT INTO idempotency (peer, key, fingerprint, state, started_by, reply_kind, reply_status,
        reply_return_code, reply_mime_type, reply_body, created_at, expires_at)
      VALUES (@peer, @key, @fingerprint, 'done', @boot, @kind, @status, @return_code, @mime_type, @body, @now, @expires_at)
      ON CONFLICT (peer, key) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'done', started_by = excluded.started_by,
        reply_kind = excluded.reply_kind, reply_status = excluded.reply_status, reply_return_code = excluded.reply_return_code,
        reply_mime_type = excluded.reply_mime_type, reply_body = excluded.reply_body,
        expires_at = max(idempotency.expires_at, excluded.expires_at)`);
    this.#ttlMs = ttlMs;
    this.#bootId = bootId;
  }

  /** (peer, key) → state `done` with `reply`, made if it is not there (pruned, or never begun). */
  setDone(record: RecordDone): void {
    const { reply } = record;
    this.#upsert.run({
      peer: record.peer,
      key: record.key,
      fingerprint: record.fingerprint,
      boot: this.#bootId,
      kind: reply.kind,
      status: reply.status,
      return_code: reply.returnCode,
      mime_type: reply.mimeType,
      body: asBuffer(reply.body),
      now: record.now,
      expires_at: Math.max(record.now + this.#ttlMs, record.keepUntil ?? 0),
    });
  }
}
