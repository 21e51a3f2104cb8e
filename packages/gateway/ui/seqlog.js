/**
 * Entries that ticks bring a few at a time (call log, closed connections), merged by their
 * `seq`, newest first, at most `limit` kept. A reconnect re-sends recent ones: those are
 * recognised by seq and not shown twice.
 */
const seqOf = (entry) => (typeof entry.seq === 'number' ? entry.seq : -1);
const keyOf = (entry) => (typeof entry.seq === 'number' ? entry.seq : `${entry.at}|${entry.requestId}|${entry.address}`);

export class SeqLog {
  #entries = [];
  #keys = new Set();
  #limit;
  /** Bumped on every change, so a renderer knows whether to redraw. */
  version = 0;

  constructor(limit) {
    this.#limit = limit;
  }

  get entries() {
    return this.#entries;
  }

  add(items) {
    if (!Array.isArray(items)) return;
    let added = false;
    for (const item of items) {
      if (!item || typeof item !== 'object') continue;
      const key = keyOf(item);
      if (this.#keys.has(key)) continue;
      this.#keys.add(key);
      this.#entries.push(item);
      added = true;
    }
    if (!added) return;
    this.#entries.sort((a, b) => seqOf(b) - seqOf(a));
    for (const dropped of this.#entries.splice(this.#limit)) this.#keys.delete(keyOf(dropped));
    this.version += 1;
  }

  clear() {
    this.#entries = [];
    this.#keys.clear();
    this.version += 1;
  }
}
