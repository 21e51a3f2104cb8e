/**
 * One timer for many deadlines. The owner keeps its entries, each with a
 * deadline in `performance.now()` milliseconds; this arms a single timer for the
 * earliest and, when it fires, asks the owner to expire what is due and to name
 * the next deadline. Deadlines mostly arrive in increasing order, so a burst of
 * requests costs no timer work at all, where a timer each costs two list
 * operations and an object.
 *
 * The timer is unref'd: the connection that owns the entries keeps the process alive.
 */
export class DeadlineTimer {
  #timer: NodeJS.Timeout | undefined;
  #armedAt = Infinity;

  /** `sweep(now)` expires every entry due by `now` and returns the next deadline, or Infinity. */
  constructor(private readonly sweep: (now: number) => number) {}

  /** A deadline at `at` now exists: fire no later than that. */
  schedule(at: number): void {
    if (at < this.#armedAt) this.#arm(at);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#armedAt = at;
    this.#timer = setTimeout(this.#fire, Math.max(1, Math.ceil(at - performance.now())));
    this.#timer.unref();
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const next = this.sweep(performance.now());
    if (next < this.#armedAt) this.#arm(next);
  };
}
