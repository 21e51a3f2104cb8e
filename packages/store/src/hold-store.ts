/**
 * The approval holds of SPEC §9, on the receiving node. Reads are synchronous and see
 * committed data only. Every write goes through the group commit; every transition is one
 * guarded UPDATE (`WHERE status = ...`), so a second decision, or a decision after the
 * hold expired, changes nothing and resolves `undefined`.
 *
 * A hold's outcome is the reply the sender's job will end with. Whenever it is set, the
 * idempotency record of the held event's key is set to it in the same write: a repeat of
 * the key (the sender's job delivered again) is answered from the record, and the handler
 * never runs twice.
 */
import type Database from 'better-sqlite3';
import type { GroupCommit } from './group-commit.js';
import { checkDecision, checkHoldStatus, checkNewHold, checkTime } from './hold-input.js';
import {
  HOLD_COLUMNS, HOLD_INFO_COLUMNS, HOLD_ROW_COLUMNS, historyAppend, holdInsertParams, toHold, toHoldInfo,
  type HoldBodilessRow, type HoldInfoRow, type HoldInsertParams, type HoldRow,
} from './hold-rows.js';
import { HOLD_STATUS, type Hold, type HoldInfo, type HoldListOptions, type NewHold } from './hold-types.js';
import type { StoredReply } from './idempotency-store.js';
import { IdempotencyRecorder } from './idempotency-record.js';
import { isJobId, newJobId } from './job-id.js';
import { checkLimit, checkResult } from './job-input.js';
import { resultParams } from './job-rows.js';
import type { DiskCheck } from './job-store.js';
import type { JobResult } from './job-types.js';

const EMPTY = Buffer.alloc(0);
const PRUNE_BATCH = 1_000;
/** Ids are monotonic ULIDs made at creation: by id is by createdAt. */
const NEWEST_FIRST = 'ORDER BY id DESC';
/** Pending holds, through the partial index on their expiry (not the status index, and no scan for min(expires_at)). */
const PENDING = `holds INDEXED BY holds_pending_expiry`;
const RESULT_SET = `result_kind = @result_kind, result_status = @result_status, result_return_code = @result_return_code,
  result_mime_type = @result_mime_type, result_body = @result_body`;
/** A decision: who, when, why, and its history entry. A hold past its expiry takes none. */
const DECIDE_SET = `decided_by = @by, decided_at = @now, decision_reason = @entry_reason`;
const DECIDABLE = `id = @id AND status = 'pending' AND expires_at > @now`;
/** What an outcome change returns: the info, and what its idempotency record needs. */
const OUTCOME_RETURNING = `RETURNING ${HOLD_INFO_COLUMNS}`;

function prepareAll(db: Database.Database) {
  return {
    insert: db.prepare(`INSERT INTO holds (id, peer, status, verb, noun, args, query, mime_type, request_id, timeout_ms,
        idempotency_key, attempt, digest, reason, created_at, expires_at, history)
      VALUES (@id, @peer, 'pending', @verb, @noun, @args, @query, @mime_type, @request_id, @timeout_ms,
        @idempotency_key, @attempt, @digest, @reason, @now, @expires_at,
        json_array(json_object('status', 'pending', 'at', CAST(@now AS INTEGER), 'by', NULL, 'reason', @reason)))
      RETURNING ${HOLD_ROW_COLUMNS}`),
    insertBody: db.prepare(`INSERT INTO hold_bodies (id, body) VALUES (?, ?)`),
    body: db.prepare(`SELECT body FROM hold_bodies WHERE id = ?`).pluck(),
    byId: db.prepare(`SELECT ${HOLD_COLUMNS} FROM holds WHERE id = ?`),
    infoById: db.prepare(`SELECT ${HOLD_INFO_COLUMNS} FROM holds WHERE id = ?`),
    list: db.prepare(`SELECT ${HOLD_INFO_COLUMNS} FROM holds ${NEWEST_FIRST} LIMIT ?`),
    listByStatus: db.prepare(`SELECT ${HOLD_INFO_COLUMNS} FROM holds WHERE status = ? ${NEWEST_FIRST} LIMIT ?`),
    approve: db.prepare(`UPDATE holds SET status = 'approved', ${DECIDE_SET}, ${historyAppend(HOLD_STATUS.APPROVED)}
      WHERE ${DECIDABLE} RETURNING ${HOLD_ROW_COLUMNS}`),
    deny: db.prepare(`UPDATE holds SET status = 'denied', ${DECIDE_SET}, ${RESULT_SET}, ${historyAppend(HOLD_STATUS.DENIED)}
      WHERE ${DECIDABLE} RETURNING ${HOLD_ROW_COLUMNS}`),
    setOutcome: db.prepare(`UPDATE holds SET ${RESULT_SET} WHERE id = @id AND status = 'approved' AND result_status IS NULL
      RETURNING ${HOLD_ROW_COLUMNS}`),
    expire: db.prepare(`UPDATE ${PENDING} SET status = 'expired', ${DECIDE_SET}, ${RESULT_SET}, ${historyAppend(HOLD_STATUS.EXPIRED)}
      WHERE status = 'pending' AND expires_at <= @now ${OUTCOME_RETURNING}`),
    nextExpiry: db.prepare(`SELECT min(expires_at) AS at FROM ${PENDING} WHERE status = 'pending'`),
    // Approved without an outcome: the handler was running when the node died.
    recover: db.prepare(`UPDATE holds INDEXED BY holds_status_id SET ${RESULT_SET} WHERE status = 'approved' AND result_status IS NULL
      ${OUTCOME_RETURNING}`),
    unannounced: db.prepare(`SELECT ${HOLD_INFO_COLUMNS} FROM holds INDEXED BY holds_status_id WHERE status = 'pending' AND announced = 0
      AND id > ? ORDER BY id LIMIT ?`),
    markAnnounced: db.prepare(`UPDATE holds SET announced = 1 WHERE id = ? AND announced = 0`),
    markCollected: db.prepare(`UPDATE holds SET collected = 1 WHERE id = ? AND result_status IS NOT NULL AND collected = 0`),
    uncollected: db.prepare(`SELECT id FROM holds INDEXED BY holds_uncollected WHERE peer = ? AND result_status IS NOT NULL AND collected = 0
      AND id > ? ORDER BY id LIMIT ?`).pluck(),
    // In batches: old holds have the smallest ids, so the first found are the ones to go.
    prune: db.prepare(`DELETE FROM holds WHERE id IN (SELECT id FROM holds INDEXED BY holds_decided
      WHERE result_status IS NOT NULL AND decided_at <= ? LIMIT ${PRUNE_BATCH})`),
  };
}

type Statements = ReturnType<typeof prepareAll>;

/**
 * The reply a repeat of a held event's key gets: given, or made from the new hold (its
 * id, say) inside the write that makes it. A function must be synchronous; if it throws,
 * nothing is kept and create() rejects with its error.
 */
export type HeldReply = StoredReply | ((hold: HoldInfo) => StoredReply);

export class HoldStore {
  readonly #sql: Statements;
  readonly #writes: GroupCommit;
  readonly #clock: () => number;
  readonly #room: DiskCheck;
  readonly #records: IdempotencyRecorder;

  /** Made by `Store.open`; use `store.holds`. */
  constructor(db: Database.Database, writes: GroupCommit, clock: () => number, room: DiskCheck, records: IdempotencyRecorder) {
    this.#sql = prepareAll(db);
    this.#writes = writes;
    this.#clock = clock;
    this.#room = room;
    this.#records = records;
  }

  /**
   * Keeps a pending hold, durably. With `heldReply` and an idempotency key, the record of
   * (peer, key) is set to `done` with that reply in the same write, so that a repeat of the
   * key is answered "held" even if the node dies right after. On a disk nearly full, it is
   * refused with StoreFullError before anything is written.
   */
  create(hold: NewHold, heldReply?: HeldReply): Promise<Hold> {
    try {
      checkNewHold(hold);
      if (heldReply !== undefined && typeof heldReply !== 'function') checkResult(heldReply);
    } catch (error) {
      return Promise.reject(error);
    }
    const now = this.#clock();
    const params = holdInsertParams(newJobId(now), hold, now);
    return this.#writes.write(() => this.#createNow(params, heldReply));
  }

  #createNow(params: HoldInsertParams, heldReply: HeldReply | undefined): Hold {
    // Throws StoreFullError, which rejects this write alone (its savepoint), before anything is written.
    this.#room.checkNew(params.body.length);
    const { body, ...columns } = params;
    const hold = toHold({ ...(this.#sql.insert.get(columns) as HoldBodilessRow), body });
    this.#sql.insertBody.run(params.id, body);
    if (heldReply !== undefined && params.idempotency_key !== null) {
      const reply = typeof heldReply === 'function' ? heldReply(hold) : heldReply;
      // Thrown here, it undoes the hold too (the write's savepoint): never a hold whose key would run again.
      checkResult(reply);
      this.#records.setDone({
        peer: params.peer, key: params.idempotency_key, fingerprint: params.digest, reply, now: params.now, keepUntil: params.expires_at,
      });
    }
    return hold;
  }

  /** The whole hold, bodies included; undefined for an unknown or malformed id. */
  get(id: string): Hold | undefined {
    if (!isHoldId(id)) return undefined;
    const row = this.#sql.byId.get(id) as HoldRow | undefined;
    return row && toHold(row);
  }

  /** The hold without its bodies. */
  info(id: string): HoldInfo | undefined {
    if (!isHoldId(id)) return undefined;
    const row = this.#sql.infoById.get(id) as HoldInfoRow | undefined;
    return row && toHoldInfo(row);
  }

  /** Holds newest first, optionally of one status. */
  list(options: HoldListOptions): HoldInfo[] {
    checkLimit(options.limit);
    checkHoldStatus(options.status);
    const rows = options.status === undefined ? this.#sql.list.all(options.limit) : this.#sql.listByStatus.all(options.status, options.limit);
    return (rows as HoldInfoRow[]).map(toHoldInfo);
  }

  /** pending → approved, only before the hold expires; resolves the hold with its body (its handler runs next). */
  approve(id: string, by: string, reason: string | null): Promise<Hold | undefined> {
    return this.#decide(id, by, reason, undefined);
  }

  /** pending → denied, only before the hold expires, with `result` as its outcome (and its key's record). */
  deny(id: string, by: string, reason: string | null, result: JobResult): Promise<Hold | undefined> {
    return this.#decide(id, by, reason, result);
  }

  #decide(id: string, by: string, reason: string | null, result: JobResult | undefined): Promise<Hold | undefined> {
    try {
      checkDecision(by, reason);
      if (result !== undefined) checkResult(result);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!isHoldId(id)) return Promise.resolve(undefined);
    const now = this.#clock();
    const params = { id, by, entry_reason: reason, now };
    return this.#writes.write(() => {
      if (result === undefined) {
        const row = this.#sql.approve.get(params) as HoldBodilessRow | undefined;
        return row && toHold({ ...row, body: this.#sql.body.get(id) as Buffer });
      }
      return this.#withOutcome(this.#sql.deny, { ...params, ...resultParams(result) }, result, now);
    });
  }

  /** approved, no outcome yet → outcome = `result` (and its key's record); undefined otherwise. */
  setOutcome(id: string, result: JobResult): Promise<Hold | undefined> {
    try {
      checkResult(result);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!isHoldId(id)) return Promise.resolve(undefined);
    const now = this.#clock();
    return this.#writes.write(() => this.#withOutcome(this.#sql.setOutcome, { id, ...resultParams(result) }, result, now));
  }

  #withOutcome(statement: Database.Statement, params: Record<string, unknown>, result: JobResult, now: number): Hold | undefined {
    const row = statement.get(params) as HoldBodilessRow | undefined;
    if (!row) return undefined;
    this.#recordOutcome(row, result, now);
    return toHold({ ...row, body: EMPTY });
  }

  /**
   * Pending holds past their expiry by `now` → expired (decided at `now`, by nobody), with
   * `result` as their outcome (and their keys' records); resolves what changed.
   */
  expire(now: number, result: JobResult): Promise<HoldInfo[]> {
    try {
      checkTime('now', now);
      checkResult(result);
    } catch (error) {
      return Promise.reject(error);
    }
    const params = { now, by: null, entry_reason: null, ...resultParams(result) };
    return this.#writes.write(() => this.#outcomes(this.#sql.expire.all(params) as HoldInfoRow[], result, now));
  }

  /** When the earliest pending hold expires (ms); undefined when none is pending. */
  nextExpiryAt(): number | undefined {
    return (this.#sql.nextExpiry.get() as { at: number | null }).at ?? undefined;
  }

  /**
   * At start: approved holds without an outcome (their handler was running when the node
   * died) → outcome = `result` (an IndeterminateError, say; and their keys' records): the
   * handler is never run again. Resolves them.
   */
  recoverRunning(result: JobResult): Promise<HoldInfo[]> {
    try {
      checkResult(result);
    } catch (error) {
      return Promise.reject(error);
    }
    const now = this.#clock();
    return this.#writes.write(() => this.#outcomes(this.#sql.recover.all(resultParams(result)) as HoldInfoRow[], result, now));
  }

  #outcomes(rows: HoldInfoRow[], result: JobResult, now: number): HoldInfo[] {
    for (const row of rows) this.#recordOutcome(row, result, now);
    return rows.map(toHoldInfo);
  }

  #recordOutcome(row: HoldInfoRow, reply: StoredReply, now: number): void {
    if (row.idempotency_key === null) return;
    this.#records.setDone({ peer: row.peer, key: row.idempotency_key, fingerprint: row.digest, reply, now });
  }

  /** Pending holds whose onHold has not run yet, oldest first. */
  unannounced(limit: number, afterId = ''): HoldInfo[] {
    checkLimit(limit);
    return (this.#sql.unannounced.all(afterId, limit) as HoldInfoRow[]).map(toHoldInfo);
  }

  /** onHold has run for this hold. */
  markAnnounced(id: string): Promise<void> {
    return this.#mark(this.#sql.markAnnounced, id);
  }

  /** The sender has fetched this hold's outcome (a hold without one stays uncollected). */
  markCollected(id: string): Promise<void> {
    return this.#mark(this.#sql.markCollected, id);
  }

  #mark(statement: Database.Statement, id: string): Promise<void> {
    if (!isHoldId(id)) return Promise.resolve();
    return this.#writes.write(() => void statement.run(id));
  }

  /** Ids of `peer`'s holds that have an outcome it has not fetched yet, oldest first. */
  uncollected(peer: string, limit: number, afterId = ''): string[] {
    checkLimit(limit);
    return this.#sql.uncollected.all(peer, afterId, limit) as string[];
  }

  /**
   * Deletes the holds whose outcome is set and that were decided by `before` (bodies and
   * results with them), at most PRUNE_BATCH per commit; resolves how many.
   */
  async prune(before: number): Promise<number> {
    checkTime('before', before);
    let total = 0;
    for (;;) {
      const deleted = await this.#writes.write(() => this.#sql.prune.run(before).changes);
      total += deleted;
      if (deleted < PRUNE_BATCH) return total;
    }
  }
}

/** Hold ids are made as job ids are (ULIDs): anything else names no hold. */
function isHoldId(id: unknown): id is string {
  return typeof id === 'string' && isJobId(id);
}
