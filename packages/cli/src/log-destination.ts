import { writeSync } from 'node:fs';

/** Past this many unwritten bytes (stdout stuck), new lines are dropped and counted. */
export const MAX_BUFFERED_LOG_BYTES = 16 * 1024 * 1024;
/** How long to wait before trying a full pipe again. */
const RETRY_MS = 10;
/** Lines wait at most this long; a busy node writes a few times per window, not once per line or turn. */
export const LOG_FLUSH_DELAY_MS = 5;
/** ...unless this much is waiting already. */
export const LOG_FLUSH_BYTES = 64 * 1024;

/**
 * pino's destination for stdout: lines go out together, at most
 * LOG_FLUSH_DELAY_MS after the first of them or once LOG_FLUSH_BYTES wait. A busy
 * node logs a line per event on each side; a write per line (pino's sync
 * destination) or a growing string re-measured on every line (sonic-boom's
 * batching mode) cost more than the rest of a small event.
 *
 * Never throws into the logger and never blocks on a full pipe: it retries, and
 * past MAX_BUFFERED_LOG_BYTES it drops lines and says how many. A closed stdout
 * (EPIPE) drops lines for good.
 */
export class BatchedStdout {
  readonly #fd: number;
  #lines: string[] = [];
  /** Bytes that a write left over (a full pipe), sent before any newer line. */
  #rest: Buffer | undefined;
  #bufferedChars = 0;
  #dropped = 0;
  #scheduled = false;
  #closed = false;

  constructor(fd = 1) {
    this.#fd = fd;
  }

  /** Lines dropped because stdout was stuck, or after it closed. */
  get dropped(): number {
    return this.#dropped;
  }

  write(line: string): boolean {
    if (this.#closed || this.#bufferedChars + line.length > MAX_BUFFERED_LOG_BYTES) {
      this.#dropped += 1;
      return false;
    }
    this.#lines.push(line);
    this.#bufferedChars += line.length;
    if (this.#bufferedChars >= LOG_FLUSH_BYTES && !this.#rest) {
      this.#flush();
    } else if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(this.#flushLater, LOG_FLUSH_DELAY_MS).unref();
    }
    return true;
  }

  /** Writes everything buffered now; for exit paths. */
  flushSync(): void {
    this.#flush();
  }

  readonly #flushLater = (): void => {
    this.#scheduled = false;
    this.#flush();
  };

  #flush(): void {
    if (this.#closed) return;
    let pending = this.#takePending();
    while (pending && pending.length > 0) {
      let written: number;
      try {
        written = writeSync(this.#fd, pending);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return this.#close();
        return this.#retryLater(pending);
      }
      pending = written < pending.length ? pending.subarray(written) : undefined;
    }
  }

  #takePending(): Buffer | undefined {
    const text = this.#lines.join('');
    this.#lines = [];
    this.#bufferedChars = 0;
    const rest = this.#rest;
    this.#rest = undefined;
    if (!rest) return text.length > 0 ? Buffer.from(text) : undefined;
    return text.length > 0 ? Buffer.concat([rest, Buffer.from(text)]) : rest;
  }

  #retryLater(pending: Buffer): void {
    this.#rest = pending;
    this.#bufferedChars += pending.length;
    if (this.#scheduled) return;
    this.#scheduled = true;
    setTimeout(this.#flushLater, RETRY_MS).unref();
  }

  #close(): void {
    this.#closed = true;
    this.#lines = [];
    this.#rest = undefined;
  }
}
