import { describe, expect, it } from 'vitest';
import { CallLog } from './call-log.js';
import { ClosedLog } from './closed-log.js';
import { RATE_BUCKET_MS, RATE_BUCKETS, Rates } from './rates.js';
import { Ring } from './ring.js';

describe('Ring', () => {
  it('keeps the newest, numbered, and says what came since a seq', () => {
    const ring = new Ring<number>(3);
    expect(ring.newest(10)).toEqual([]);
    for (let i = 1; i <= 5; i++) expect(ring.add(i * 10)).toBe(i);
    expect(ring.size).toBe(3);
    expect(ring.newest(10).map((x) => x.item)).toEqual([50, 40, 30]);
    expect(ring.newest(2).map((x) => x.seq)).toEqual([5, 4]);
    expect(ring.since(4).map((x) => x.item)).toEqual([50]);
    // Older than the ring holds: what it still has.
    expect(ring.since(0).map((x) => x.seq)).toEqual([5, 4, 3]);
    expect(ring.since(0, 1).map((x) => x.seq)).toEqual([5]);
    expect(ring.since(5)).toEqual([]);
  });
});

describe('Rates', () => {
  it('counts per 5 s bucket over 5 minutes, with percentiles within a bin of the truth', () => {
    let now = 1_000_000 * RATE_BUCKET_MS;
    const rates = new Rates(() => now);
    for (let i = 1; i <= 100; i++) rates.add(i, i > 95);
    now += RATE_BUCKET_MS;
    rates.add(3, false);
    const points = rates.points();
    expect(points).toHaveLength(RATE_BUCKETS);
    const [previous, last] = points.slice(-2);
    expect(previous).toMatchObject({ count: 100, errors: 5 });
    expect(previous!.p50!).toBeGreaterThanOrEqual(50);
    expect(previous!.p50!).toBeLessThan(50 * 1.19);
    expect(previous!.p99!).toBeGreaterThanOrEqual(99);
    expect(previous!.p99!).toBeLessThan(99 * 1.19);
    expect(last).toMatchObject({ count: 1, errors: 0 });
    expect(points[0]).toMatchObject({ count: 0, p50: null });
    // Five minutes on, the old buckets are gone, not counted again.
    now += RATE_BUCKETS * RATE_BUCKET_MS;
    expect(rates.points().every((p) => p.count === 0)).toBe(true);
  });
});

describe('CallLog and ClosedLog', () => {
  it('shape each entry as SPEC §13 lists it', () => {
    const log = new CallLog(() => Date.UTC(2026, 11, 1));
    log.add('out', { peer: 'p', requestId: 'r', handlerName: 'get_x', ms: 1.23456, verb: 'get', noun: 'x/y', status: 504, bytesIn: 0, bytesOut: 3 }, true);
    expect(log.newest(1)).toEqual([{
      at: '2026-12-01T00:00:00.000Z', direction: 'out', peer: 'p', requestId: 'r', verb: 'get', noun: 'x/y', handler: 'get_x',
      status: 504, returnCode: null, durationMs: 1.235, bytesIn: 0, bytesOut: 3, error: null,
    }]);
    expect(log.since(0)[0]!.seq).toBe(1);
    const closed = new ClosedLog();
    closed.add(undefined, '1.2.3.4:5', 'x'.repeat(1000), true);
    const [entry] = closed.newest();
    expect(entry).toMatchObject({ peer: null, address: '1.2.3.4:5', refused: true });
    expect(entry!.reason.length).toBeLessThanOrEqual(301);
  });
});
