/**
 * Fires once when nothing called touch() for `ms` (SPEC §12: a stream that moves
 * no data either way for the deadline is aborted). One timer, refreshed, never remade.
 */
export class IdleTimer {
  #timer: NodeJS.Timeout | undefined;
  #lastTouch = performance.now();

  constructor(
    private readonly ms: number,
    private readonly onIdle: () => void,
  ) {
    this.#timer = setTimeout(this.#check, ms);
    this.#timer.unref();
  }

  /** Data moved. Cheap: the timer itself is re-armed only when it fires early. */
  touch(): void {
    this.#lastTouch = performance.now();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #check = (): void => {
    if (!this.#timer) return;
    const quiet = performance.now() - this.#lastTouch;
    if (quiet < this.ms) {
      this.#timer = setTimeout(this.#check, this.ms - quiet);
      this.#timer.unref();
      return;
    }
    this.#timer = undefined;
    this.onIdle();
  };
}
