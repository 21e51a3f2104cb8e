/** A task answers synchronously (void) or later (a promise). */
export type Task = () => void | Promise<void>;

/**
 * Runs at most `concurrency` tasks at once and queues up to `maxQueued` more.
 * `tryRun` refuses (returns false) when the queue is full, so the caller can
 * answer "too many in flight" instead of buffering without bound. A task that
 * finishes synchronously costs no promise.
 */
export class Limiter {
  #running = 0;
  #draining = false;
  readonly #queue: Task[] = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxQueued: number,
  ) {}

  /** While held, queued tasks wait and new ones queue, whatever the concurrency. */
  #held = false;

  hold(): void {
    this.#held = true;
  }

  /** Starts what waited, up to the concurrency. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    this.#startQueued();
  }

  tryRun(task: Task): boolean {
    if (!this.#held && this.#running < this.concurrency) {
      this.#start(task);
      return true;
    }
    if (this.#queue.length >= this.maxQueued) return false;
    this.#queue.push(task);
    return true;
  }

  #start(task: Task): void {
    this.#running += 1;
    let pending: void | Promise<void>;
    try {
      pending = task();
    } catch {
      pending = undefined;
    }
    if (pending) pending.then(this.#done, this.#done);
    else this.#done();
  }

  readonly #done = (): void => {
    this.#running -= 1;
    this.#startQueued();
  };

  #startQueued(): void {
    if (this.#draining) return; // the loop below is already running further up the stack
    this.#draining = true;
    while (!this.#held && this.#running < this.concurrency && this.#queue.length > 0) this.#start(this.#queue.shift()!);
    this.#draining = false;
  }
}
