/**
 * One timer for a node's holds (SPEC §9), armed for the earliest of: the next expiry of a
 * pending hold, and a write to try again after a failure. Nothing polls; an idle node with
 * no pending hold arms nothing.
 */
const MAX_TIMER_MS = 2_147_483_647;

export class HoldTimer {
  readonly #fire: () => void;
  #timer: NodeJS.Timeout | undefined;
  #at = Infinity;
  #stopped = false;

  constructor(fire: () => void) {
    this.#fire = fire;
  }

  /** Fires at `at` (ms since the epoch), or sooner if it was armed sooner; Infinity disarms. */
  armAt(at: number): void {
    if (this.#stopped || (at === this.#at && this.#timer)) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = at;
    if (at === Infinity) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#at = Infinity;
      this.#fire();
    }, Math.min(Math.max(at - Date.now(), 0), MAX_TIMER_MS));
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
