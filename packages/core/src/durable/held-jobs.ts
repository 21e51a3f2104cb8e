/**
 * The sending node's jobs that wait on a peer's hold (SPEC §9). A job goes `on_hold` when
 * the peer answers HELD (or is born so, for a synchronous caller), and is queued again
 * when the peer's HoldNotice says the hold has an outcome: its next delivery asks for it.
 *
 * A notice can overtake the write that puts its job on hold (both are in flight in one
 * turn): a notice that finds no job is remembered for a while, and a job that goes on hold
 * under a remembered hold is queued again at once.
 */
import type { Job, JobStore, NewJob } from '@restpipe/store';
import type { HeldInfo } from '../api-types.js';

/** How long a notice that found no job is remembered, and how many at most. */
const NOTICE_MEMORY_MS = 60_000;
const MAX_NOTICES = 4_096;

export type AdoptOutcome = { readonly status: 'adopted'; readonly job: Job } | { readonly status: 'full'; readonly unfinished: number };

export class HeldJobs {
  readonly #jobs: JobStore;
  readonly #wake: (target: string) => void;
  /** `target hold` → when noticed. */
  readonly #early = new Map<string, number>();

  constructor(jobs: JobStore, wake: (target: string) => void) {
    this.#jobs = jobs;
    this.#wake = wake;
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

  /** A synchronous call was answered HELD: a job is made for it, born on hold. */
  async adopt(job: NewJob, held: HeldInfo, maxUnfinished: number): Promise<AdoptOutcome> {
    const outcome = await this.#jobs.insertHeld(job, { id: held.hold, reason: held.reason, expiresAt: Date.parse(held.expiresAt) }, { maxUnfinished });
    if (outcome.status === 'full') return outcome;
    if (outcome.status === 'inserted') await this.#releaseIfNoticed(job.target, held.hold);
    return { status: 'adopted', job: outcome.job };
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
