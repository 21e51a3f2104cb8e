/**
 * Room kept on the data directory's disk for the jobs already accepted. Each status change
 * of a job (started, retried, ended) writes a few pages; if new jobs could take the disk's
 * last byte, the jobs that already got their 202 could never move again. So new jobs are
 * refused (507) while the free space is under a reserve, and status changes are not.
 */
import { statfsSync } from 'node:fs';

/** The reserve: 5% of the filesystem, from 256 KiB to 64 MiB. */
export function defaultReserveBytes(totalBytes: number): number {
  return Math.min(64 * 1024 * 1024, Math.max(256 * 1024, Math.floor(totalBytes * 0.05)));
}

/** How long a reading of the free space is used (with the bytes accepted since taken off it). */
const FRESH_MS = 100;

export class DiskRoom {
  readonly #dir: string;
  readonly reserveBytes: number;
  /** The last reading: free bytes and the WAL's size then, and the bytes accepted since. */
  #seen: { free: number; wal: number; at: number; since: number } | undefined;

  /** `reserveBytes`: undefined for the default; 0 turns the check off. */
  constructor(dir: string, reserveBytes: number | undefined) {
    this.#dir = dir;
    this.reserveBytes = reserveBytes ?? defaultReserveBytes(this.#stat()?.total ?? 0);
  }

  /**
   * Whether `bytes` more would leave less than `share` of the reserve free: a new job's
   * body asks with the whole reserve (share 1), a job's result with half of it, so that
   * results still fit when new jobs are refused. The bytes go to disk twice (the WAL, then
   * the database at the next checkpoint), and so will the WAL's bytes at the reading.
   * The reading is reused for FRESH_MS, the bytes accepted since taken off it (counted
   * once: the WAL they grow is not counted again until the next reading). Unknown space
   * counts as room.
   */
  short(bytes: number, walBytes: number, share = 1): boolean {
    if (this.reserveBytes === 0) return false;
    const now = performance.now();
    if (!this.#seen || now - this.#seen.at > FRESH_MS) {
      const free = this.free();
      if (free === undefined) return false;
      this.#seen = { free, wal: walBytes, at: now, since: 0 };
    }
    const short = this.#seen.free - this.#seen.since - this.#seen.wal - 2 * bytes < this.reserveBytes * share;
    if (!short) this.#seen.since += 2 * bytes;
    return short;
  }

  /** Forget the reading: the next check reads the disk again (after a checkpoint gave space back). */
  forget(): void {
    this.#seen = undefined;
  }

  /** Free bytes on the disk now; undefined when they cannot be read. */
  free(): number | undefined {
    return this.#stat()?.free;
  }

  #stat(): { free: number; total: number } | undefined {
    try {
      const s = statfsSync(this.#dir);
      return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
    } catch {
      return undefined;
    }
  }
}
