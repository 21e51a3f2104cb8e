/**
 * The sending side of SPEC §9 holds, for JobStore: a job waits `on_hold` for a hold the
 * far side keeps, knowing why and until when, and is released by hold id once the hold
 * has an outcome. Its expiry moves past the hold's by the job's own TTL: after the hold
 * ends, the job still has that long to fetch the outcome.
 */
import type Database from 'better-sqlite3';
import { insertParams, transitionSql, type InsertParams } from './job-rows.js';
import { JOB_STATUS, type NewJob } from './job-types.js';

/** The far side's hold a job waits for. */
export interface JobHoldRef {
  readonly id: string;
  readonly reason: string;
  /** When the hold expires (ms). */
  readonly expiresAt: number;
}

/**
 * The job's TTL (expires_at - created_at) counted again from the hold's expiry; never earlier
 * than it was, and once per hold: a job told "held" again by the same hold keeps its expiry.
 */
const EXTENDED_EXPIRY = `CASE WHEN hold IS @hold THEN expires_at ELSE max(expires_at, @hold_expires_at + (expires_at - created_at)) END`;

/** A cancelled job whose holder is still to be told to withdraw its hold. */
export interface Withdrawal {
  readonly id: string;
  readonly hold: string;
  readonly verb: string;
  readonly noun: readonly string[];
  readonly requestId: string;
}

export function prepareHoldStatements(db: Database.Database): Record<'hold' | 'release' | 'releaseHeld' | 'withdrawals' | 'withdrawn', Database.Statement> {
  return {
    hold: db.prepare(transitionSql([JOB_STATUS.QUEUED, JOB_STATUS.RUNNING],
      `hold = @hold, hold_reason = @hold_reason, hold_expires_at = @hold_expires_at, expires_at = ${EXTENDED_EXPIRY}`)),
    withdrawals: db.prepare(`SELECT id, hold, verb, noun, request_id FROM jobs INDEXED BY jobs_withdraw
      WHERE hold_withdraw = 1 AND target = @target ORDER BY id LIMIT @limit`),
    withdrawn: db.prepare(`UPDATE jobs SET hold_withdraw = 0 WHERE id = ? AND hold_withdraw = 1`),
    release: db.prepare(transitionSql([JOB_STATUS.ON_HOLD], 'next_attempt_at = @now')),
    releaseHeld: db.prepare(`UPDATE jobs INDEXED BY jobs_target_hold SET status = 'queued', updated_at = @now, next_attempt_at = @now
      WHERE target = @target AND hold = @hold AND status = 'on_hold' RETURNING id`),
  };
}

/** A job born on hold: the event was delivered once (that is how the far side came to hold it). */
export function heldInsertParams(id: string, job: NewJob, now: number, hold: JobHoldRef): InsertParams {
  const params = insertParams(id, job, now);
  return {
    ...params,
    status: JOB_STATUS.ON_HOLD,
    attempts: 1,
    hold: hold.id,
    hold_reason: hold.reason,
    hold_expires_at: hold.expiresAt,
    expires_at: Math.max(params.expires_at, hold.expiresAt + job.ttlMs),
  };
}
