/**
 * The last `capacity` items, each numbered in arrival order (`seq`, from 1). Adding is
 * one array store: no allocation, no shifting, whatever the load.
 */
export class Ring<T> {
  readonly #items: Array<T | undefined>;
  /** Items added so far; the newest has seq === #added. */
  #added = 0;

  constructor(readonly capacity: number) {
    this.#items = new Array<T | undefined>(capacity);
  }

  /** The newest item's seq; 0 while empty. */
  get lastSeq(): number {
    return this.#added;
  }

  get size(): number {
    return Math.min(this.#added, this.capacity);
  }

  add(item: T): number {
    this.#items[this.#added % this.capacity] = item;
    return ++this.#added;
  }

  /** Up to `limit` items, newest first, each with its seq. */
  newest(limit: number): Array<{ seq: number; item: T }> {
    return this.#range(Math.max(this.#added - Math.min(limit, this.size), 0));
  }

  /** The items added after `seq`, newest first (at most the ring's capacity, and at most `limit`). */
  since(seq: number, limit = this.capacity): Array<{ seq: number; item: T }> {
    return this.#range(Math.max(seq, this.#added - Math.min(limit, this.size)));
  }

  clear(): void {
    this.#items.fill(undefined);
    this.#added = 0;
  }

  /** Items with seq in (after, #added], newest first. */
  #range(after: number): Array<{ seq: number; item: T }> {
    const out: Array<{ seq: number; item: T }> = [];
    for (let seq = this.#added; seq > after; seq--) out.push({ seq, item: this.#items[(seq - 1) % this.capacity]! });
    return out;
  }
}
