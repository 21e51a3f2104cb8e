import { describe, expect, it } from 'vitest';
import { Limiter } from './limiter.js';

describe('Limiter', () => {
  it('runs a synchronous task at once and keeps no slot for it', () => {
    const limiter = new Limiter(1, 0);
    const ran: number[] = [];
    for (let i = 0; i < 5; i++) expect(limiter.tryRun(() => void ran.push(i))).toBe(true);
    expect(ran).toEqual([0, 1, 2, 3, 4]);
  });

  it('holds asynchronous tasks to the concurrency, queues up to the limit, refuses past it, and drains in order', async () => {
    const limiter = new Limiter(2, 2);
    const releases: Array<() => void> = [];
    const started: number[] = [];
    const task = (i: number) => () => new Promise<void>((resolve) => {
      started.push(i);
      releases.push(resolve);
    });
    expect([0, 1, 2, 3, 4].map((i) => limiter.tryRun(task(i)))).toEqual([true, true, true, true, false]);
    expect(started).toEqual([0, 1]);
    releases[0]!();
    releases[1]!();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2, 3]);
  });

  it('frees the slot of a task that throws or rejects', async () => {
    const limiter = new Limiter(1, 1);
    limiter.tryRun(() => {
      throw new Error('sync failure');
    });
    limiter.tryRun(() => Promise.reject(new Error('async failure')));
    let ran = false;
    expect(limiter.tryRun(() => void (ran = true))).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(ran).toBe(true);
  });
});
