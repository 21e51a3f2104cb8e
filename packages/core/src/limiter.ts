/**
 * Runs at most `concurrency` tasks at once and queues up to `maxQueued` more.
 * `tryRun` refuses (returns false) when the queue is full, so the caller can
 * answer "too many in flight" instead of buffering without bound.
 */
export class Limiter {
  #running = 0;
  readonly #queue: Array<() => Promise<void>> = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxQueued: number,
  ) {}

  tryRun(task: () => Promise<void>): boolean {
    if (this.#running < this.concurrency) {
      this.#start(task);
      return true;
    }
    if (this.#queue.length >= this.maxQueued) return false;
    this.#queue.push(task);
    return true;
  }

  #start(task: () => Promise<void>): void {
    this.#running += 1;
    void task()
      .catch(() => {})
      .finally(() => {
        this.#running -= 1;
        const next = this.#queue.shift();
        if (next) this.#start(next);
      });
  }
}
