/**
 * Lets callers wait, with a bound, for a value to appear under a key: a request
 * for a client that is about to (re)connect waits here for `connectWaitMs`.
 */
export class Waiters<K, V> {
  readonly #waiting = new Map<K, Set<(value: V | undefined) => void>>();
  #size = 0;

  /** Callers waiting now, under every key. */
  get size(): number {
    return this.#size;
  }

  /** Callers waiting now under `key`. */
  count(key: K): number {
    return this.#waiting.get(key)?.size ?? 0;
  }

  wait(key: K, timeoutMs: number): Promise<V | undefined> {
    if (timeoutMs <= 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const set = this.#waiting.get(key) ?? new Set();
      this.#waiting.set(key, set);
      const done = (value: V | undefined): void => {
        clearTimeout(timer);
        if (set.delete(done)) this.#size -= 1;
        if (set.size === 0 && this.#waiting.get(key) === set) this.#waiting.delete(key);
        resolve(value);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      set.add(done);
      this.#size += 1;
    });
  }

  notify(key: K, value: V): void {
    for (const done of [...(this.#waiting.get(key) ?? [])]) done(value);
  }

  /** Ends every wait with nothing, e.g. on close. */
  clear(): void {
    for (const set of [...this.#waiting.values()]) for (const done of [...set]) done(undefined);
  }
}
