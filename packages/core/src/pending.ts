import type { ReplyFrame } from '@restpipe/wire';

interface Entry {
  resolve(reply: ReplyFrame): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const MAX_ID = 0xffff_ffff;

/**
 * Requests sent and awaiting their Reply, keyed by id. Every entry has a timer and
 * is settled exactly once: by its reply, its deadline, a cancel, or the connection
 * closing. Ids of settled entries are forgotten, so a late reply finds nothing.
 */
export class PendingRequests {
  readonly #entries = new Map<number, Entry>();
  #nextId = 1;
  #lateReplies = 0;

  get size(): number {
    return this.#entries.size;
  }

  /** Replies that arrived after their request was settled and were dropped. */
  get lateReplies(): number {
    return this.#lateReplies;
  }

  /**
   * Registers a request; `onTimeout` runs (and the promise rejects with its
   * result) when no reply came within `timeoutMs`.
   */
  add(timeoutMs: number, onTimeout: (id: number) => Error): { id: number; reply: Promise<ReplyFrame> } {
    const id = this.#allocateId();
    const reply = new Promise<ReplyFrame>((resolve, reject) => {
      const timer = setTimeout(() => this.reject(id, onTimeout(id)), timeoutMs);
      this.#entries.set(id, { resolve, reject, timer });
    });
    return { id, reply };
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
  }

  #take(id: number): Entry | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    this.#entries.delete(id);
    clearTimeout(entry.timer);
    return entry;
  }

  #allocateId(): number {
    // Wraps after 2^32 requests, skipping ids still in use.
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id >= MAX_ID ? 1 : id + 1;
      if (!this.#entries.has(id)) return id;
    }
  }
}
