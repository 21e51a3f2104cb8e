/** Callers waiting for a job to end (`Prefer: respond-async, wait=N`), each with its own timer. */
export class SettleWaiters {
  readonly #byId = new Map<string, Set<() => void>>();

  /** Resolves when `notify(id)` is called, after `timeoutMs`, or when `signal` aborts (the caller left). */
  wait(id: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      let set = this.#byId.get(id);
      if (!set) this.#byId.set(id, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        const waiting = this.#byId.get(id);
        waiting?.delete(done);
        if (waiting?.size === 0) this.#byId.delete(id);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  notify(id: string): void {
    for (const done of [...(this.#byId.get(id) ?? [])]) done();
  }

  /** Wakes everyone: the node is closing. */
  clear(): void {
    for (const id of [...this.#byId.keys()]) this.notify(id);
  }
}
