import type { ReplyFrame } from '@restpipe/wire';
import { DeadlineTimer } from './deadline-timer.js';

interface Entry<T> {
  resolve(reply: ReplyFrame): void;
  reject(error: Error): void;
  /** Deadline, in performance.now() ms. */
  at: number;
  /** What the owner's onTimeout is told about the request. */
  context: T;
}

const MAX_ID = 0xffff_ffff;

/**
 * Requests sent and awaiting their Reply, keyed by id. Every entry has a deadline
 * and is settled exactly once: by its reply, its deadline, a cancel, or the
 * connection closing. Ids of settled entries are forgotten, so a late reply finds nothing.
 */
export class PendingRequests<T = undefined> {
  readonly #entries = new Map<number, Entry<T>>();
  readonly #deadlines = new DeadlineTimer((now) => this.#expire(now));
  #nextId = 1;
  #lateReplies = 0;

  /** `onTimeout` makes the error a request fails with when its deadline passes. */
  constructor(private readonly onTimeout: (id: number, context: T) => Error) {}

  get size(): number {
    return this.#entries.size;
  }

  /** Replies that arrived after their request was settled and were dropped. */
  get lateReplies(): number {
    return this.#lateReplies;
  }

  /** An id no pending request holds, for the next add(). */
  nextId(): number {
    // Wraps after 2^32 requests, skipping ids still in use.
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id >= MAX_ID ? 1 : id + 1;
      if (!this.#entries.has(id)) return id;
    }
  }

  /** Registers request `id`; it fails with onTimeout's error if no reply comes within `timeoutMs`. */
  add(id: number, timeoutMs: number, context: T): Promise<ReplyFrame> {
    const at = performance.now() + timeoutMs;
    const reply = new Promise<ReplyFrame>((resolve, reject) => {
      this.#entries.set(id, { resolve, reject, at, context });
    });
    this.#deadlines.schedule(at);
    return reply;
  }

  /** Delivers a reply; false (and counted as late) when nothing waits for that id. */
  resolve(reply: ReplyFrame): boolean {
    const entry = this.#take(reply.id);
    if (!entry) {
      this.#lateReplies += 1;
      return false;
    }
    entry.resolve(reply);
    return true;
  }

  reject(id: number, error: Error): boolean {
    const entry = this.#take(id);
    if (!entry) return false;
    entry.reject(error);
    return true;
  }

  /** Rejects every entry, e.g. when the connection is gone. */
  rejectAll(error: Error): void {
    for (const id of [...this.#entries.keys()]) this.reject(id, error);
    this.#deadlines.stop();
  }

  #take(id: number): Entry<T> | undefined {
    const entry = this.#entries.get(id);
    if (entry) this.#entries.delete(id);
    return entry;
  }

  #expire(now: number): number {
    const due: number[] = [];
    let next = Infinity;
    for (const [id, entry] of this.#entries) {
      if (entry.at <= now) due.push(id);
      else if (entry.at < next) next = entry.at;
    }
    for (const id of due) {
      const entry = this.#take(id);
      entry?.reject(this.onTimeout(id, entry.context));
    }
    return next;
  }
}
