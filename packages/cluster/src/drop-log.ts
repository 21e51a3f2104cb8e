import type { Logger } from '@restpipe/core';

/** At most one log line per this long: a flood of bad messages never floods the log. */
const EVERY_MS = 10_000;

/**
 * Log lines for messages dropped as garbled or hostile: the first at once, then at most one
 * every 10 s, with how many were dropped since the last line.
 */
export class DropLog {
  #lastAt = -Infinity;
  #since = 0;

  constructor(
    private readonly logger: Logger,
    private readonly line: string,
  ) {}

  note(why: string, about: string): void {
    this.#since += 1;
    const now = performance.now();
    if (now - this.#lastAt < EVERY_MS) return;
    this.logger.warn({ why: why.slice(0, 200), about: about.slice(0, 200), dropped: this.#since }, this.line);
    this.#lastAt = now;
    this.#since = 0;
  }
}
