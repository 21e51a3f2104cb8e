/**
 * The sending node's jobs that wait on a peer's hold (SPEC §9). A job goes `on_hold` when
 * the peer answers HELD (or is born so, for a synchronous caller), and is queued again
 * when the peer's HoldNotice says the hold has an outcome: its next delivery asks for it.
 *
 * A notice can overtake the write that puts its job on hold (both are in flight in one
 * turn): a notice that finds no job is remembered for a while, and a job that goes on hold
 * under a remembered hold is queued again at once.
 */
import { IdempotencyKeyMismatchError } from '@restpipe/wire';
import type { Job, JobStore, NewJob } from '@restpipe/store';
import type { HeldInfo, PipeRequest, PipeResponse } from '../api-types.js';
import { isRetryable } from './job-request.js';

/** How long a notice that found no job is remembered, and how many at most. */
const NOTICE_MEMORY_MS = 60_000;
const MAX_NOTICES = 4_096;
/** Withdrawals sent per round; the rest at the next connect (or cancel). */
const WITHDRAWALS_PER_ROUND = 1_000;

/** How a withdrawal goes to the peer: job delivery's send. */
export type WithdrawSend = (target: string, request: PipeRequest) => Promise<PipeResponse>;

export type AdoptOutcome = { readonly status: 'adopted'; readonly job: Job } | { readonly status: 'full'; readonly unfinished: number };

export class HeldJobs {
  readonly #jobs: JobStore;
  readonly #wake: (target: string) => void;
  /** `target hold` → when noticed. */
  readonly #early = new Map<string, number>();
  /** Targets whose withdrawals are being sent now. */
  readonly #withdrawing = new Set<string>();
  readonly #send: WithdrawSend;
  readonly #timeoutMs: number;

  constructor(jobs: JobStore, wake: (target: string) => void, send: WithdrawSend, timeoutMs: number) {
    this.#jobs = jobs;
    this.#wake = wake;
    this.#send = send;
    this.#timeoutMs = timeoutMs;
  }

  /** The peer `target` says hold `holdId` has an outcome: queue the jobs that wait on it. */
  async notice(target: string, holdId: string): Promise<void> {
    const released = await this.#jobs.releaseHeld(target, holdId);
    if (released.length > 0) this.#wake(target);
    else this.#remember(target, holdId);
  }

  /** A delivery of `job` was answered HELD: it waits on the hold (or goes again at once, if noticed already). */
  async held(job: Job, held: HeldInfo): Promise<Job | undefined> {
    const onHold = await this.#jobs.hold(job.id, held.hold, held.reason, Date.parse(held.expiresAt));
    if (onHold) await this.#releaseIfNoticed(job.target, held.hold);
    return onHold;
  }

  /**
   * A synchronous call was answered HELD: a job is made for it, born on hold. A repeat of
   * the call's Idempotency-Key gets the job made the first time, if it waits on the same
   * hold of the same peer; the key used for another call is 422.
   */
  async adopt(job: NewJob, held: HeldInfo, maxUnfinished: number): Promise<AdoptOutcome> {
    const outcome = await this.#jobs.insertHeld(job, { id: held.hold, reason: held.reason, expiresAt: Date.parse(held.expiresAt) }, { maxUnfinished });
    if (outcome.status === 'full') return outcome;
    if (outcome.status === 'duplicate' && (outcome.job.target !== job.target || outcome.job.hold !== held.hold)) {
      // The peer made a hold that nothing here will wait on: it is withdrawn (best effort), never to run.
      this.#send(job.target, { verb: 'delete', noun: job.noun, hold: held.hold, timeoutMs: this.#timeoutMs }).catch(() => undefined);
      throw new IdempotencyKeyMismatchError('this idempotency key was used for another request (a job of this node has it)');
    }
    if (outcome.status === 'inserted') await this.#releaseIfNoticed(job.target, held.hold);
    return { status: 'adopted', job: outcome.job };
  }

  /**
   * Tells `target` to withdraw the holds of the jobs cancelled while they waited on them
   * (SPEC §9: a cancelled job's event must not run once approved). Each is kept owed until
   * the peer answers, and sent again at its next connect.
   */
  async withdraw(target: string): Promise<void> {
    if (this.#withdrawing.has(target)) return;
    this.#withdrawing.add(target);
    try {
      for (const owed of this.#jobs.withdrawals(target, WITHDRAWALS_PER_ROUND)) {
        const request: PipeRequest = { verb: 'delete', noun: owed.noun, hold: owed.hold, timeoutMs: this.#timeoutMs, requestId: owed.requestId || owed.id };
        try {
          await this.#send(target, request);
        } catch (error) {
          if (isRetryable(error)) return; // away or busy: at the next connect
        }
        await this.#jobs.withdrawn(owed.id);
      }
    } finally {
      this.#withdrawing.delete(target);
    }
  }

  async #releaseIfNoticed(target: string, holdId: string): Promise<void> {
    const key = `${target} ${holdId}`;
    const at = this.#early.get(key);
    if (at === undefined) return;
    this.#early.delete(key);
    if (Date.now() - at <= NOTICE_MEMORY_MS) await this.notice(target, holdId);
  }

  #remember(target: string, holdId: string): void {
    const now = Date.now();
    for (const [key, at] of this.#early) {
      if (this.#early.size < MAX_NOTICES && now - at <= NOTICE_MEMORY_MS) break;
      this.#early.delete(key); // oldest first: insertion order
    }
    this.#early.set(`${target} ${holdId}`, now);
  }
}
