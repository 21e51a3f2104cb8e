/** Rows of the `holds` table, to and from the shapes of hold-types.ts. */
import type { HoldEntry, Hold, HoldInfo, HoldStatus, NewHold } from './hold-types.js';
import { asBuffer, resultInfo } from './job-rows.js';
import type { JobQueryParam } from './job-types.js';

/** Every column but the two bodies, and the result body's length. */
export const HOLD_INFO_COLUMNS = `id, peer, status, verb, noun, args, query, mime_type, request_id, timeout_ms, idempotency_key,
  attempt, digest, reason, created_at, expires_at, decided_by, decided_at, decision_reason,
  result_kind, result_status, result_return_code, result_mime_type, length(result_body) AS result_bytes,
  announced, collected, history`;

/** What a transition returns: the row without the request body, which lives in `hold_bodies`. */
export const HOLD_ROW_COLUMNS = `${HOLD_INFO_COLUMNS}, result_body`;

/** Every column, the request body read from `hold_bodies`. */
export const HOLD_COLUMNS = `${HOLD_ROW_COLUMNS}, (SELECT body FROM hold_bodies WHERE hold_bodies.id = holds.id) AS body`;

/**
 * A transition's entry, appended to `history` in SQL. better-sqlite3 binds numbers as REAL:
 * the cast writes `at` as 1700000000000, not 1700000000000.0.
 */
export function historyAppend(status: HoldStatus): string {
  return `history = json_insert(history, '$[#]', json_object('status', '${status}', 'at', CAST(@now AS INTEGER), 'by', @by, 'reason', @entry_reason))`;
}

export interface HoldInfoRow {
  id: string;
  peer: string;
  status: HoldStatus;
  verb: string;
  noun: string;
  args: string;
  query: string;
  mime_type: string;
  request_id: string;
  timeout_ms: number;
  idempotency_key: string | null;
  attempt: number;
  digest: string;
  reason: string;
  created_at: number;
  expires_at: number;
  decided_by: string | null;
  decided_at: number | null;
  decision_reason: string | null;
  result_kind: number | null;
  result_status: number | null;
  result_return_code: number | null;
  result_mime_type: string | null;
  result_bytes: number | null;
  announced: number;
  collected: number;
  history: string;
}

/** A row as a transition returns it, before its body is read. */
export interface HoldBodilessRow extends HoldInfoRow {
  result_body: Buffer | null;
}

export interface HoldRow extends HoldBodilessRow {
  body: Buffer | null;
}

/** The named parameters of an INSERT into `holds`. */
export interface HoldInsertParams {
  id: string;
  peer: string;
  verb: string;
  noun: string;
  args: string;
  query: string;
  mime_type: string;
  request_id: string;
  timeout_ms: number;
  idempotency_key: string | null;
  attempt: number;
  digest: string;
  reason: string;
  now: number;
  expires_at: number;
  body: Buffer;
}

export function holdInsertParams(id: string, hold: NewHold, now: number): HoldInsertParams {
  const query: JobQueryParam[] = hold.query.map((q) => ({ key: q.key, values: [...q.values] }));
  const body = asBuffer(hold.body);
  return {
    id,
    peer: hold.peer,
    verb: hold.verb,
    noun: JSON.stringify(hold.noun),
    args: JSON.stringify(hold.args),
    query: JSON.stringify(query),
    mime_type: hold.mimeType,
    request_id: hold.requestId,
    timeout_ms: hold.timeoutMs,
    idempotency_key: hold.idempotencyKey ?? null,
    attempt: hold.attempt,
    digest: hold.digest,
    reason: hold.reason,
    now,
    expires_at: now + hold.ttlMs,
    body,
  };
}

export function toHoldInfo(row: HoldInfoRow): HoldInfo {
  return {
    id: row.id,
    peer: row.peer,
    status: row.status,
    verb: row.verb,
    noun: JSON.parse(row.noun) as string[],
    args: JSON.parse(row.args) as string[],
    query: JSON.parse(row.query) as JobQueryParam[],
    mimeType: row.mime_type,
    requestId: row.request_id,
    timeoutMs: row.timeout_ms,
    idempotencyKey: row.idempotency_key ?? '',
    attempt: row.attempt,
    digest: row.digest,
    reason: row.reason,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
    decisionReason: row.decision_reason,
    result: resultInfo(row),
    announced: row.announced === 1,
    collected: row.collected === 1,
    history: JSON.parse(row.history) as HoldEntry[],
  };
}

export function toHold(row: HoldRow): Hold {
  return { ...toHoldInfo(row), body: row.body ?? Buffer.alloc(0), resultBody: row.result_body };
}
