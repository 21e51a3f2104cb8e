/**
 * The jobs of SPEC §8. Reads are synchronous and see committed data only (a write is
 * invisible until its promise resolves). Every write goes through the group commit; every
 * status change is one guarded UPDATE (`WHERE status IN (allowed)`), so a transition from
 * the wrong state changes nothing and resolves `undefined`.
 */
import type Database from 'better-sqlite3';
import type { GroupCommit } from './group-commit.js';
import { heldInsertParams, prepareHoldStatements, type JobHoldRef, type Withdrawal } from './job-holds.js';
import { checkJobHold, checkLimit, checkNewJob, checkResult } from './job-input.js';
import { newJobId } from './job-id.js';
import {
  INFO_COLUMNS, insertedJob, insertParams, JOB_COLUMNS, resultParams, toJob, toJobInfo, transitionSql,
  type BodilessRow, type InfoRow, type InsertParams, type JobRow,
} from './job-rows.js';
import { JOB_STATUS, JOB_STATUSES, type InsertOutcome, type Job, type JobInfo, type JobResult, type JobStatus, type NewJob } from './job-types.js';

/**
 * Jobs that wait (queued or held), through the partial index on their expiry: the planner
 * would rather take the status index, and scan every queued job for min(expires_at).
 */
const WAITING = `jobs INDEXED BY jobs_waiting_expiry`;
const WAITING_SQL = `status IN ('queued', 'on_hold')`;
/** Ids are monotonic ULIDs made at creation: by id is by createdAt (see schema-v2.ts). */
const NEWEST_FIRST = 'ORDER BY id DESC';

const EMPTY = Buffer.alloc(0);
const PRUNE_BATCH = 1_000;
/** A due job's body size, so that delivery can keep the bodies it holds within a budget. */
const BODY_BYTES = `(SELECT length(body) FROM job_bodies WHERE job_bodies.id = jobs.id) AS body_bytes`;

/** A due job: its info, and the size of the body its delivery will read. */
export interface DueJob extends JobInfo {
  readonly bodyBytes: number;
}

/** The disk's room, as the store's DiskRoom answers for it. */
export interface DiskCheck {
  /** Throws StoreFullError when a new job with a body of `bytes` would eat into the reserve. */
  checkNew(bytes: number): void;
  resultFits(bytes: number): boolean;
}

const ROOM_ALWAYS: DiskCheck = { checkNew: () => {}, resultFits: () => true };

const RESULT_SET = `result_kind = @result_kind, result_status = @result_status, result_return_code = @result_return_code,
  result_mime_type = @result_mime_type, result_body = @result_body`;

function prepareAll(db: Database.Database) {
  return {
    insert: db.prepare(`INSERT INTO jobs (id, target, verb, noun, args, query, mime_type, timeout_ms, request_id,
        idempotency_key, status, attempts, created_at, updated_at, expires_at, next_attempt_at, hold, hold_reason, hold_expires_at)
      VALUES (@id, @target, @verb, @noun, @args, @query, @mime_type, @timeout_ms, @request_id,
        @idempotency_key, @status, @attempts, @now, @now, @expires_at, @now, @hold, @hold_reason, @hold_expires_at)`),
    insertBody: db.prepare(`INSERT INTO job_bodies (id, body) VALUES (?, ?)`),
    body: db.prepare(`SELECT body FROM job_bodies WHERE id = ?`).pluck(),
    byId: db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`),
    infoById: db.prepare(`SELECT ${INFO_COLUMNS} FROM jobs WHERE id = ?`),
    byKey: db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE idempotency_key = ?`),
    list: db.prepare(`SELECT ${INFO_COLUMNS} FROM jobs ${NEWEST_FIRST} LIMIT ?`),
    listByStatus: db.prepare(`SELECT ${INFO_COLUMNS} FROM jobs WHERE status = ? ${NEWEST_FIRST} LIMIT ?`),
    due: db.prepare(`SELECT ${INFO_COLUMNS}, ${BODY_BYTES} FROM jobs WHERE status = 'queued' AND next_attempt_at <= @now AND expires_at > @now
      ORDER BY next_attempt_at, id LIMIT @limit`),
    dueFor: db.prepare(`SELECT ${INFO_COLUMNS}, ${BODY_BYTES} FROM jobs INDEXED BY jobs_target_due WHERE status = 'queued' AND next_attempt_at <= @now AND expires_at > @now
      AND target = @target ORDER BY next_attempt_at, id LIMIT @limit`),
    nextDue: db.prepare(`SELECT min(next_attempt_at) AS at FROM jobs WHERE status = 'queued'`),
    nextDueAfter: db.prepare(`SELECT min(next_attempt_at) AS at FROM jobs WHERE status = 'queued' AND next_attempt_at > ?`),
    nextExpiry: db.prepare(`SELECT min(expires_at) AS at FROM ${WAITING} WHERE ${WAITING_SQL}`),
    unfinished: db.prepare(`SELECT unfinished FROM job_counts WHERE id = 1`),
    countUpTo: db.prepare(`SELECT count(*) FROM (SELECT 1 FROM jobs INDEXED BY jobs_status_id WHERE status = ? LIMIT ?)`).pluck(),
    start: db.prepare(transitionSql([JOB_STATUS.QUEUED], 'attempts = attempts + 1')),
    retry: db.prepare(transitionSql([JOB_STATUS.RUNNING], 'next_attempt_at = @next_attempt_at, attempts = attempts - @unsent')),
    complete: db.prepare(transitionSql([JOB_STATUS.RUNNING], RESULT_SET)),
    fail: db.prepare(transitionSql([JOB_STATUS.QUEUED, JOB_STATUS.RUNNING, JOB_STATUS.ON_HOLD], RESULT_SET)),
    // A job that waits on a peer's hold owes the peer a withdrawal (SPEC §9): see withdrawals().
    cancel: db.prepare(transitionSql([JOB_STATUS.QUEUED, JOB_STATUS.ON_HOLD], 'hold_withdraw = CASE WHEN hold IS NULL THEN 0 ELSE 1 END')),
    // A job delivered at least once (attempts > 0) may have run: its outcome is unknown, so it fails with the given result.
    expire: db.prepare(`UPDATE ${WAITING} SET updated_at = @now,
        status = CASE WHEN attempts > 0 AND @result_status IS NOT NULL THEN 'failed' ELSE 'expired' END,
        result_kind = CASE WHEN attempts > 0 THEN @result_kind END, result_status = CASE WHEN attempts > 0 THEN @result_status END,
        result_return_code = CASE WHEN attempts > 0 THEN @result_return_code END,
        result_mime_type = CASE WHEN attempts > 0 THEN @result_mime_type END, result_body = CASE WHEN attempts > 0 THEN @result_body END
      WHERE ${WAITING_SQL} AND expires_at <= @now RETURNING id, target, status`),
    // In batches: old jobs have the smallest ids, so the first finished ones found are the ones to go.
    pruneFinished: db.prepare(`DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE status IN ('succeeded', 'failed', 'expired', 'cancelled')
      AND updated_at <= ? LIMIT ${PRUNE_BATCH})`),
    recover: db.prepare(`UPDATE jobs SET status = 'queued', updated_at = @now, next_attempt_at = @now
      WHERE status = 'running' RETURNING id`),
  };
}

type Statements = ReturnType<typeof prepareAll> & ReturnType<typeof prepareHoldStatements>;

export interface ListOptions {
  /** Only jobs in this status; all when absent. */
  readonly status?: JobStatus;
  /** At most this many, newest `createdAt` first. */
  readonly limit: number;
}

/** Jobs counted per status at most, by counts(). */
export const JOB_COUNT_CAP = 10_000;

export class JobStore {
  readonly #sql: Statements;
  readonly #writes: GroupCommit;
  readonly #clock: () => number;
  readonly #room: DiskCheck;

  /** Made by `Store.open`; use `store.jobs`. */
  constructor(db: Database.Database, writes: GroupCommit, clock: () => number, room: DiskCheck = ROOM_ALWAYS) {
    this.#sql = { ...prepareAll(db), ...prepareHoldStatements(db) };
    this.#writes = writes;
    this.#clock = clock;
    this.#room = room;
  }

  /** Whether a result of `bytes` still fits on the disk (within half of its reserve). */
  resultFits(bytes: number): boolean {
    return this.#room.resultFits(bytes);
  }

  /**
   * Queues a job, durably: resolves once it is committed. With `maxUnfinished`, a node that
   * already has that many unfinished jobs refuses it (`full`), counted exactly, in the same
   * transaction. A job whose idempotency key another job has is not queued (`duplicate`).
   */
  insert(job: NewJob, options: { readonly maxUnfinished?: number } = {}): Promise<InsertOutcome> {
    try {
      checkNewJob(job);
    } catch (error) {
      return Promise.reject(error);
    }
    const now = this.#clock();
    return this.#insert(insertParams(newJobId(now), job, now), job, options);
  }

  /**
   * As insert(), but the job is born on_hold under the far side's hold (SPEC §9), its one
   * delivery counted (attempts 1), and its expiry moved past the hold's by its own TTL.
   */
  insertHeld(job: NewJob, hold: JobHoldRef, options: { readonly maxUnfinished?: number } = {}): Promise<InsertOutcome> {
    try {
      checkNewJob(job);
      checkJobHold(hold?.id, hold?.reason, hold?.expiresAt);
    } catch (error) {
      return Promise.reject(error);
    }
    const now = this.#clock();
    return this.#insert(heldInsertParams(newJobId(now), job, now, hold), job, options);
  }

  #insert(params: InsertParams, job: NewJob, options: { readonly maxUnfinished?: number }): Promise<InsertOutcome> {
    const checkKey = job.idempotencyKey !== undefined;
    return this.#writes.write(() => this.#insertNow(params, job, checkKey, options.maxUnfinished));
  }

  #insertNow(params: InsertParams, job: NewJob, checkKey: boolean, maxUnfinished: number | undefined): InsertOutcome {
    const existing = checkKey ? (this.#sql.byKey.get(params.idempotency_key) as JobRow | undefined) : undefined;
    // A repeat of a job already accepted is answered with it, full disk or not.
    if (existing) return { status: 'duplicate', job: toJob(existing) };
    // Throws StoreFullError, which rejects this write alone (its savepoint), before anything is written.
    this.#room.checkNew(params.body.length);
    if (maxUnfinished !== undefined) {
      const unfinished = this.countUnfinished();
      if (unfinished >= maxUnfinished) return { status: 'full', unfinished };
    }
    const { body, ...columns } = params;
    this.#sql.insert.run(columns);
    this.#sql.insertBody.run(params.id, body);
    return { status: 'inserted', job: insertedJob(params, job) };
  }

  /** The whole job, bodies included. */
  get(id: string): Job | undefined {
    const row = this.#sql.byId.get(id) as JobRow | undefined;
    return row && toJob(row);
  }

  /** The job without its bodies. */
  info(id: string): JobInfo | undefined {
    const row = this.#sql.infoById.get(id) as InfoRow | undefined;
    return row && toJobInfo(row);
  }

  /**
   * Jobs kept, by status, each counted up to `cap` (a status with more says `cap`): a walk of
   * at most `cap` index entries per status, so a dashboard asking every second never stalls
   * a node that keeps millions of finished jobs.
   */
  counts(cap = JOB_COUNT_CAP): Record<JobStatus, number> {
    return Object.fromEntries(JOB_STATUSES.map((status) => [status, this.#sql.countUpTo.get(status, cap) as number])) as Record<JobStatus, number>;
  }

  /** Jobs newest `createdAt` first, optionally of one status. */
  list(options: ListOptions): JobInfo[] {
    checkLimit(options.limit);
    const rows = options.status === undefined ? this.#sql.list.all(options.limit) : this.#sql.listByStatus.all(options.status, options.limit);
    return (rows as InfoRow[]).map(toJobInfo);
  }

  /**
   * Queued jobs due by `now` (not expired), earliest first; only `target`'s when given.
   * Without their bodies: a delivery reads its body when it starts (start()), so a backlog
   * costs no memory for the jobs not yet going out.
   */
  due(now: number, limit: number, target?: string): DueJob[] {
    checkLimit(limit);
    const rows = target === undefined ? this.#sql.due.all({ now, limit }) : this.#sql.dueFor.all({ now, limit, target });
    return (rows as Array<InfoRow & { body_bytes: number | null }>).map((row) => ({ ...toJobInfo(row), bodyBytes: row.body_bytes ?? 0 }));
  }

  /** When the earliest queued job is due (ms), so that one timer can be armed for it; undefined when none is queued. */
  nextDueAt(): number | undefined {
    return (this.#sql.nextDue.get() as { at: number | null }).at ?? undefined;
  }

  /**
   * When the next queued job falls due after `now` (ms), or undefined. Jobs already due wait
   * for their peer, which wakes delivery when it connects: a timer for them would spin.
   */
  nextDueAfter(now: number): number | undefined {
    return (this.#sql.nextDueAfter.get(now) as { at: number | null }).at ?? undefined;
  }

  /** When the earliest queued or held job expires (ms); undefined when there is none. */
  nextExpiryAt(): number | undefined {
    return (this.#sql.nextExpiry.get() as { at: number | null }).at ?? undefined;
  }

  /** Jobs queued, running or on hold: what `--max-jobs` bounds. O(1). */
  countUnfinished(): number {
    return (this.#sql.unfinished.get() as { unfinished: number }).unfinished;
  }

  /** queued → running, for a delivery: `attempts` counts it. */
  start(id: string): Promise<Job | undefined> {
    return this.#transition(this.#sql.start, { id, to: JOB_STATUS.RUNNING }, true);
  }

  /**
   * running → queued, to be delivered again (same key) from `nextAttemptAt` on. `sent`
   * false: the event never left this node (the peer was gone, or too old), so the start
   * is not counted as an attempt.
   */
  retry(id: string, nextAttemptAt: number, sent = true): Promise<Job | undefined> {
    return this.#transition(this.#sql.retry, { id, to: JOB_STATUS.QUEUED, next_attempt_at: nextAttemptAt, unsent: sent ? 0 : 1 });
  }

  /** running → succeeded (a 2xx reply) or failed (any other), keeping the reply. */
  complete(id: string, result: JobResult): Promise<Job | undefined> {
    const to = result.status >= 200 && result.status < 300 ? JOB_STATUS.SUCCEEDED : JOB_STATUS.FAILED;
    return this.#withResult(this.#sql.complete, id, to, result);
  }

  /** queued, running or on_hold → failed, with the reply that explains it (an IndeterminateError, say). */
  fail(id: string, result: JobResult): Promise<Job | undefined> {
    return this.#withResult(this.#sql.fail, id, JOB_STATUS.FAILED, result);
  }

  /** queued or on_hold → cancelled (`DELETE /_rp/jobs/ID`). */
  cancel(id: string): Promise<Job | undefined> {
    return this.#transition(this.#sql.cancel, { id, to: JOB_STATUS.CANCELLED });
  }

  /**
   * queued or running → on_hold, under the far side's hold `holdId` (SPEC §9), which expires
   * at `holdExpiresAt`; the job's expiry moves past it by the job's own TTL.
   */
  hold(id: string, holdId: string, reason: string, holdExpiresAt: number): Promise<Job | undefined> {
    try {
      checkJobHold(holdId, reason, holdExpiresAt);
    } catch (error) {
      return Promise.reject(error);
    }
    const params = { id, to: JOB_STATUS.ON_HOLD, hold: holdId, hold_reason: reason, hold_expires_at: holdExpiresAt };
    return this.#transition(this.#sql.hold, params);
  }

  /** on_hold → queued, due now. */
  release(id: string): Promise<Job | undefined> {
    return this.#transition(this.#sql.release, { id, to: JOB_STATUS.QUEUED });
  }

  /** `target`'s jobs on hold under `holdId` → queued, due now (the hold has an outcome); resolves their ids. */
  releaseHeld(target: string, holdId: string): Promise<string[]> {
    const now = this.#clock();
    return this.#writes.write(() => (this.#sql.releaseHeld.all({ now, target, hold: holdId }) as { id: string }[]).map((r) => r.id));
  }

  /** `target`'s cancelled jobs whose holds are still to be withdrawn at the peer, oldest first. */
  withdrawals(target: string, limit: number): Withdrawal[] {
    checkLimit(limit);
    const rows = this.#sql.withdrawals.all({ target, limit }) as Array<{ id: string; hold: string; verb: string; noun: string; request_id: string }>;
    return rows.map((r) => ({ id: r.id, hold: r.hold, verb: r.verb, noun: JSON.parse(r.noun) as string[], requestId: r.request_id }));
  }

  /** The peer has taken the withdrawal of job `id`'s hold. */
  async withdrawn(id: string): Promise<void> {
    await this.#writes.write(() => this.#sql.withdrawn.run(id));
  }

  /**
   * Queued and held jobs whose TTL ran out by `now` → expired; resolves their ids and new
   * statuses. With `unknownOutcome`, one that was delivered before (its outcome never came
   * back) → failed, with that result, rather than expired.
   */
  expire(now: number, unknownOutcome?: JobResult): Promise<Array<{ id: string; target: string; status: JobStatus }>> {
    const none = { result_kind: null, result_status: null, result_return_code: null, result_mime_type: null, result_body: null };
    const result = unknownOutcome ? resultParams(unknownOutcome) : none;
    return this.#writes.write(() => this.#sql.expire.all({ now, ...result }) as Array<{ id: string; target: string; status: JobStatus }>);
  }

  /**
   * Deletes the jobs that ended by `before` (their bodies and results with them), at most
   * PRUNE_BATCH per commit so that no turn holds the loop long; resolves how many.
   */
  async pruneFinished(before: number): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.#writes.write(() => this.#sql.pruneFinished.run(before).changes);
      total += deleted;
      if (deleted < PRUNE_BATCH) return total;
    }
  }

  /**
   * At start: jobs that were running when the node died → queued, due now, to be delivered
   * again with the same idempotency key (the receiver then answers from its record, or
   * IndeterminateError). Resolves their ids.
   */
  recoverRunning(): Promise<string[]> {
    const now = this.#clock();
    return this.#writes.write(() => (this.#sql.recover.all({ now }) as { id: string }[]).map((r) => r.id));
  }

  #withResult(statement: Database.Statement, id: string, to: JobStatus, result: JobResult): Promise<Job | undefined> {
    try {
      checkResult(result);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#transition(statement, { id, to, ...resultParams(result) });
  }

  /** A guarded status change; the request body is read back only for a start, whose delivery sends it. */
  #transition(statement: Database.Statement, params: Record<string, unknown>, withBody = false): Promise<Job | undefined> {
    const now = this.#clock();
    return this.#writes.write(() => {
      const row = statement.get({ ...params, now }) as BodilessRow | undefined;
      if (!row) return undefined;
      return toJob({ ...row, body: withBody ? (this.#sql.body.get(row.id) as Buffer) : EMPTY });
    });
  }
}
