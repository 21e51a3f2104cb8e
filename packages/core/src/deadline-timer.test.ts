import { describe, expect, it } from 'vitest';
import { DeadlineTimer } from './deadline-timer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Deadlines kept the way PendingRequests keeps them: the owner's map, swept by one timer. */
function owner() {
  const deadlines = new Map<string, number>();
  const expired: Array<{ key: string; lateMs: number }> = [];
  let sweeps = 0;
  const timer = new DeadlineTimer((now) => {
    sweeps += 1;
    let next = Infinity;
    for (const [key, at] of deadlines) {
      if (at <= now) {
        deadlines.delete(key);
        expired.push({ key, lateMs: now - at });
      } else {
        next = Math.min(next, at);
      }
    }
    return next;
  });
  const add = (key: string, inMs: number): void => {
    const at = performance.now() + inMs;
    deadlines.set(key, at);
    timer.schedule(at);
  };
  return { add, deadlines, expired, timer, sweeps: () => sweeps };
}

describe('DeadlineTimer', () => {
  it('expires each deadline once, in order, and not before it is due', async () => {
    const o = owner();
    o.add('late', 60);
    o.add('early', 20);
    o.add('middle', 40);
    await sleep(120);
    expect(o.expired.map((e) => e.key)).toEqual(['early', 'middle', 'late']);
    expect(o.expired.every((e) => e.lateMs >= 0)).toBe(true);
    expect(o.deadlines.size).toBe(0);
  });

  it('serves a thousand deadlines in increasing order with a handful of sweeps, not a timer each', async () => {
    const o = owner();
    for (let i = 0; i < 1000; i++) o.add(`r${i}`, 30);
    // Settled before their deadline, as most requests are.
    for (let i = 0; i < 990; i++) o.deadlines.delete(`r${i}`);
    await sleep(80);
    expect(o.expired.map((e) => e.key)).toEqual(Array.from({ length: 10 }, (_, i) => `r${990 + i}`));
    expect(o.sweeps()).toBeLessThan(10);
  });

  it('fires nothing after stop()', async () => {
    const o = owner();
    o.add('x', 10);
    o.timer.stop();
    await sleep(40);
    expect(o.sweeps()).toBe(0);
  });
});
