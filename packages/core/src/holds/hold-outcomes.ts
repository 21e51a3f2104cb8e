/**
 * The ends of holds on the holding node (SPEC §9): an outcome kept (a write that fails, a
 * full disk, is tried again on the timer), expiry at each pending hold's `expiresAt`, and
 * the sender told each time by HoldNotice. One timer; none while nothing is pending.
 */
import { HoldExpiredError, StoreFullError } from '@restpipe/wire';
import type { HoldInfo, HoldStatus, JobResult, Store } from '@restpipe/store';
import { diagnostics, publish } from '../diagnostics.js';
import type { Logger } from '../logger.js';
import { resultOf } from './hold-run.js';
import { HoldTimer } from './hold-timer.js';

/** `restpipe:hold`: one transition of a hold. `status` `pending` is its creation. */
export interface HoldMessage {
  owner: object;
  hold: string;
  status: HoldStatus;
  decidedBy: string | null;
  peer: string;
  verb: string;
  noun: string;
  requestId: string;
  reason: string | null;
}

export interface HoldOutcomesInit {
  readonly store: Store;
  readonly logger: Logger;
  readonly owner: object;
  /** Sends HoldNotice to `peer` if it is connected and takes holds; false when not. */
  notify(peer: string, hold: string): boolean;
}

/** After a failed store write, how long before it is tried again. */
const TROUBLE_PAUSE_MS = 1_000;

export class HoldOutcomes {
  readonly #init: HoldOutcomesInit;
  readonly #timer: HoldTimer;
  /** Outcomes that could not be written yet: tried again on the timer. */
  readonly #unsaved = new Map<string, JobResult>();
  #stopped = false;

  constructor(init: HoldOutcomesInit) {
    this.#init = init;
    this.#timer = new HoldTimer(() => void this.#tick());
  }

  /** One log line and one counter (through the metrics' subscription): a hold was made or decided. */
  transition(hold: HoldInfo, decidedBy: string | null): void {
    if (!diagnostics.hold.hasSubscribers) return;
    const message: HoldMessage = {
      owner: this.#init.owner, hold: hold.id, status: hold.status, decidedBy, peer: hold.peer, verb: hold.verb,
      noun: hold.noun.join('/'), requestId: hold.requestId, reason: hold.status === 'pending' ? hold.reason : hold.decisionReason,
    };
    publish(diagnostics.hold, message);
  }

  /** Keeps an approved handler's reply as the hold's outcome (shrunk if the disk has no room), then tells the sender. */
  async save(id: string, result: JobResult): Promise<void> {
    if (!this.#open()) return; // closed meanwhile: the next start makes it IndeterminateError
    const kept = this.#keepable(result);
    try {
      const done = await this.#store.holds.setOutcome(id, kept);
      this.#unsaved.delete(id);
      if (done) this.#init.notify(done.peer, done.id);
    } catch (error) {
      this.#unsaved.set(id, kept);
      this.trouble(`keep the outcome of hold ${id}`, error);
    }
  }

  /** Pending holds past their expiry end 403 HoldExpiredError; then the timer is armed for the next. */
  async expireDue(): Promise<void> {
    if (!this.#open()) return;
    let ended: HoldInfo[];
    try {
      ended = await this.#store.holds.expire(Date.now(), resultOf(new HoldExpiredError('nobody decided on the held event before its hold expired'), false));
    } catch (error) {
      this.trouble('expire holds', error);
      return;
    }
    for (const info of ended) {
      this.transition(info, null);
      this.#init.notify(info.peer, info.id);
    }
    this.arm();
  }

  /** The timer, for the earliest pending expiry (or sooner, to retry a write). */
  arm(): void {
    if (!this.#open()) return;
    this.#timer.armAt(this.#unsaved.size > 0 ? Date.now() + TROUBLE_PAUSE_MS : (this.#store.holds.nextExpiryAt() ?? Infinity));
  }

  /** A store write failed: logged, and the timer tries again soon. */
  trouble(what: string, error: unknown): void {
    if (!this.#open()) return;
    this.#init.logger.error({ err: (error as Error)?.message ?? String(error) }, `holds: could not ${what}; trying again in ${TROUBLE_PAUSE_MS} ms`);
    this.#timer.armAt(Date.now() + TROUBLE_PAUSE_MS);
  }

  stop(): void {
    this.#stopped = true;
    this.#timer.stop();
  }

  get #store(): Store {
    return this.#init.store;
  }

  #open(): boolean {
    return !this.#stopped && !this.#store.closed;
  }

  /** A reply the disk has no room for becomes a small StoreFullError failure: the hold still gets an outcome. */
  #keepable(result: JobResult): JobResult {
    if (this.#store.jobs.resultFits(result.body.length)) return result;
    return resultOf(new StoreFullError(`the approved handler's reply (${result.body.length} bytes) could not be kept: the disk is nearly full`), false);
  }

  async #tick(): Promise<void> {
    for (const [id, result] of [...this.#unsaved]) await this.save(id, result);
    await this.expireDue();
  }
}
