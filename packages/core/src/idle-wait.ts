/**
 * A drain's wait: resolves once the connection is idle (asked again at each
 * check()), once release() is called, or after the timeout, whichever is first.
 */
export class IdleWait {
  #waiter: (() => void) | undefined;

  constructor(private readonly idle: () => boolean) {}

  async wait(timeoutMs: number): Promise<void> {
    const idle = new Promise<void>((resolve) => {
      this.#waiter = resolve;
      this.check();
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([idle, timeout]);
    clearTimeout(timer);
    this.#waiter = undefined;
  }

  /** Something finished: idle now, perhaps. */
  check(): void {
    if (this.#waiter && this.idle()) this.release();
  }

  release(): void {
    const done = this.#waiter;
    this.#waiter = undefined;
    done?.();
  }
}
