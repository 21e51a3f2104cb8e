import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, StoreError, StoreFullError } from '@restpipe/errors';
import { Store } from './index.js';
import { sampleJob, tempDir } from './test-support/helpers.js';

let tmp: ReturnType<typeof tempDir>;
let store: Store;
beforeEach(() => {
  tmp = tempDir();
  store = Store.open(join(tmp.dir, 'd'));
});
afterEach(() => {
  store.close();
  tmp.remove();
});

describe('group commit', () => {
  it('runs every write of one turn in one transaction, and answers only after its COMMIT', async () => {
    const n = 200;
    const writes = Array.from({ length: n }, (_, i) => store.jobs.insert(sampleJob({ noun: ['n', String(i)] })));
    // Queued, not yet committed: nothing is visible, nothing has been answered.
    expect(store.stats).toMatchObject({ commits: 0, pending: n });
    expect(store.jobs.countUnfinished()).toBe(0);
    const seenAtResolve: number[] = [];
    for (const w of writes) void w.then(() => seenAtResolve.push(store.stats.commits));
    const outcomes = await Promise.all(writes);
    expect(store.stats).toMatchObject({ commits: 1, writes: n, largestBatch: n, pending: 0, failedCommits: 0 });
    // Each promise resolved after the one commit had happened.
    expect(new Set(seenAtResolve)).toEqual(new Set([1]));
    expect(outcomes.every((o) => o.status === 'inserted')).toBe(true);
    expect(store.jobs.countUnfinished()).toBe(n);
  });

  it('gives writes of later turns a transaction each', async () => {
    for (let i = 0; i < 3; i++) await store.jobs.insert(sampleJob());
    expect(store.stats).toMatchObject({ commits: 3, writes: 3, largestBatch: 1 });
  });

  it('undoes a write that throws and rejects it alone; the rest of its batch commits', async () => {
    const first = store.jobs.insert(sampleJob({ idempotencyKey: 'k1' }));
    const bad = store.commit(() => {
      // Half of a write, then a throw: the half must not survive.
      store.jobs.countUnfinished();
      throw new Error('boom');
    });
    const last = store.jobs.insert(sampleJob({ idempotencyKey: 'k2' }));
    await expect(bad).rejects.toThrow('boom');
    await expect(first).resolves.toMatchObject({ status: 'inserted' });
    await expect(last).resolves.toMatchObject({ status: 'inserted' });
    expect(store.stats).toMatchObject({ commits: 1, writes: 3, failedCommits: 0 });
    expect(store.jobs.countUnfinished()).toBe(2);
  });

  it('rejects a write whose function returns a promise', async () => {
    await expect(store.commit(() => Promise.resolve(1))).rejects.toThrow(/must be synchronous/);
  });

  it('is a barrier: commit(() => x) resolves x once everything asked before is durable', async () => {
    const write = store.jobs.insert(sampleJob());
    await expect(store.commit(() => 42)).resolves.toBe(42);
    await expect(write).resolves.toMatchObject({ status: 'inserted' });
    expect(store.stats.commits).toBe(1);
  });

  it('rejects a bad job before it is queued', async () => {
    await expect(store.jobs.insert(sampleJob({ target: 'nowhere' }))).rejects.toThrow(InvalidArgumentError);
    await expect(store.jobs.insert(sampleJob({ ttlMs: 0 }))).rejects.toThrow(/ttlMs/);
    expect(store.stats.pending).toBe(0);
  });

  it('rejects every write of a batch that fails to commit, and keeps none of it', async () => {
    const small = Store.open(join(tmp.dir, 'small'), { maxBytes: 256 * 1024 });
    try {
      const kept = await small.jobs.insert(sampleJob());
      const batch = Array.from({ length: 40 }, () => small.jobs.insert(sampleJob({ body: Buffer.alloc(16 * 1024, 1) })));
      const settled = await Promise.allSettled(batch);
      expect(settled.every((s) => s.status === 'rejected' && s.reason instanceof StoreFullError)).toBe(true);
      const reason = (settled[0] as PromiseRejectedResult).reason as StoreFullError;
      expect(reason).toBeInstanceOf(StoreError);
      expect(reason.code).toBe('RP_ERR_STORE_FULL');
      expect(reason.message).toMatch(/SQLITE_FULL/);
      expect(small.stats).toMatchObject({ commits: 1, failedCommits: 1 });
      expect(small.jobs.countUnfinished()).toBe(1);
      expect(small.jobs.list({ limit: 100 }).map((j) => j.id)).toEqual([kept.status === 'inserted' ? kept.job.id : '']);
      // The store goes on: a write that fits commits.
      await expect(small.jobs.insert(sampleJob())).resolves.toMatchObject({ status: 'inserted' });
    } finally {
      small.close();
    }
  });

  it('checkpoints the WAL on a later turn once it passes checkpointWalBytes, outside any commit', async () => {
    const dir = join(tmp.dir, 'wal');
    const small = Store.open(dir, { checkpointWalBytes: 64 * 1024 });
    try {
      await Promise.all(Array.from({ length: 40 }, () => small.jobs.insert(sampleJob({ body: Buffer.alloc(4096, 3) }))));
      expect(small.stats.checkpoints).toBe(0);
      expect(statSync(join(dir, 'restpipe.db-wal')).size).toBeGreaterThan(64 * 1024);
      await new Promise((r) => setImmediate(r));
      expect(small.stats.checkpoints).toBe(1);
      expect(statSync(join(dir, 'restpipe.db-wal')).size).toBe(0);
      expect(small.jobs.countUnfinished()).toBe(40);
    } finally {
      small.close();
    }
  });
});
