import type { ReplyFrame } from '@restpipe/wire';
import { DeadlineTimer } from './deadline-timer.js';

/** What the owner does when a request settles; `C` is its own record of the request. */
export interface PendingHooks<C, R> {
  /** Turns a reply into the result the caller gets; a throw fails the request with that error. */
  reply(reply: ReplyFrame, context: C): R;
  /** The error a request fails with when its deadline passes. */
  timeout(id: number, context: C): Error;
  /** Runs once, whichever way the request settled; with the error when it failed. */
  settled?(context: C, error: unknown): void;
}

interface Entry<C, R> {
  resolve(result: R): void;
  reject(error: unknown): void;
  /** Deadline, in performance.now() ms. */
  at: number;
  context: C;
}

const MAX_ID = 0xffff_ffff;

/**
 * Requests sent and awaiting their Reply, keyed by id. Every entry has a deadline
 * and is settled exactly once: by its reply, its deadline, a cancel, or the
 * connection closing. Ids of settled entries are forgotten, so a late reply finds
 * nothing. The caller's promise is the entry's own: one promise per request.
 */
export class PendingRequests<C, R = ReplyFrame> {
  // Made on first use: a connection that never sends a request (most of a
  // server's) holds no table and no timer for it.
  #table: Map<number, Entry<C, R>> | undefined;
  #timer: DeadlineTimer | undefined;
  #nextId = 1;
  #lateReplies = 0;

  constructor(private readonly hooks: PendingHooks<C, R>) {}

  get size(): number {
    return this.#table?.size ?? 0;
  }

  get #entries(): Map<number, Entry<C, R>> {
    return (this.#table ??= new Map());
  }

  get #deadlines(): DeadlineTimer {
    return (this.#timer ??= new DeadlineTimer((now) => this.#expire(now)));
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

  /** Registers request `id`; it fails with the timeout hook's error if no reply comes within `timeoutMs`. */
  add(id: number, timeoutMs: number, context: C): Promise<R> {
    const at = performance.now() + timeoutMs;
    const result = new Promise<R>((resolve, reject) => {
      this.#entries.set(id, { resolve, reject, at, context });
    });
    this.#deadlines.schedule(at);
    return result;
  }

  /** Moves request `id`'s deadline to `timeoutMs` from now: its body is still moving (SPEC §12). */
  touch(id: number, timeoutMs: number): void {
    const entry = this.#table?.get(id);
    if (entry) entry.at = performance.now() + timeoutMs;
  }

  /** Delivers a reply; false (and counted as late) when nothing waits for that id. */
  resolve(reply: ReplyFrame): boolean {
    const entry = this.#take(reply.id);
    if (!entry) {
      this.#lateReplies += 1;
      return false;
    }
    let result: R;
    try {
      result = this.hooks.reply(reply, entry.context);
    } catch (error) {
      this.hooks.settled?.(entry.context, error);
      entry.reject(error);
      return true;
    }
    this.hooks.settled?.(entry.context, undefined);
    entry.resolve(result);
    return true;
  }

  reject(id: number, error: Error): boolean {
    const entry = this.#take(id);
    if (!entry) return false;
    this.hooks.settled?.(entry.context, error);
    entry.reject(error);
    return true;
  }

  /** Rejects every entry, e.g. when the connection is gone. */
  rejectAll(error: Error): void {
    if (!this.#table) return;
    for (const id of [...this.#table.keys()]) this.reject(id, error);
    this.#timer?.stop();
  }

  #take(id: number): Entry<C, R> | undefined {
    const entry = this.#table?.get(id);
    if (!entry) return undefined;
    this.#table!.delete(id);
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
      const entry = this.#entries.get(id);
      if (entry) this.reject(id, this.hooks.timeout(id, entry.context));
    }
    return next;
  }
}
