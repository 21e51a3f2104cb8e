import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@restpipe/errors';
import { isJobId, Store, type InsertOutcome, type Job, type JobResult } from './index.js';
import { fakeClock, sampleJob, tempDir } from './test-support/helpers.js';

let tmp: ReturnType<typeof tempDir>;
let clock: ReturnType<typeof fakeClock>;
let store: Store;
beforeEach(() => {
  tmp = tempDir();
  clock = fakeClock();
  store = Store.open(join(tmp.dir, 'd'), { clock: clock.now });
});
afterEach(() => {
  store.close();
  tmp.remove();
});

function inserted(outcome: InsertOutcome): Job {
  if (outcome.status !== 'inserted') throw new Error(`expected inserted, got ${outcome.status}`);
  return outcome.job;
}

const OK: JobResult = { kind: 0, status: 200, returnCode: 0, mimeType: 'text/plain', body: Buffer.from('done') };
const BOOM: JobResult = { kind: 1, status: 500, returnCode: 251, mimeType: 'application/json', body: Buffer.from('{"exception":{}}') };

describe('JobStore', () => {
  it('keeps a job as given, queued and due now, under a sortable id', async () => {
    const job = inserted(await store.jobs.insert(sampleJob()));
    expect(isJobId(job.id)).toBe(true);
    expect(job).toMatchObject({
      target: 'client/alice', verb: 'post', noun: ['orders', 'create'], args: ['a1'], query: [{ key: 'q', values: ['1', '2'] }],
      mimeType: 'application/json', timeoutMs: 5000, requestId: 'req-1', idempotencyKey: job.id, status: 'queued', attempts: 0,
      createdAt: clock.now(), updatedAt: clock.now(), expiresAt: clock.now() + 60_000, nextAttemptAt: clock.now(), hold: null,
      holdReason: null, holdExpiresAt: null, result: null,
    });
    expect(store.jobs.get(job.id)).toEqual(job);
    expect(store.jobs.get(job.id)?.body.toString()).toBe('{"n":1}');
    const { body: _body, resultBody: _resultBody, ...info } = job;
    expect(store.jobs.info(job.id)).toEqual(info);
    expect(store.jobs.get('01ZZZZZZZZZZZZZZZZZZZZZZZZ')).toBeUndefined();
  });

  it('lists newest createdAt first, by status, up to a limit', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(inserted(await store.jobs.insert(sampleJob())).id);
      clock.advance(10);
    }
    await store.jobs.cancel(ids[1]!);
    expect(store.jobs.list({ limit: 10 }).map((j) => j.id)).toEqual([...ids].reverse());
    expect(store.jobs.list({ limit: 2 }).map((j) => j.id)).toEqual([ids[4], ids[3]]);
    expect(store.jobs.list({ status: 'cancelled', limit: 10 }).map((j) => j.id)).toEqual([ids[1]]);
    expect(store.jobs.list({ status: 'queued', limit: 10 })).toHaveLength(4);
    expect(() => store.jobs.list({ limit: -1 })).toThrow(/limit/);
  });

  it('moves queued → running → succeeded, counting attempts and keeping the reply', async () => {
    const { id } = inserted(await store.jobs.insert(sampleJob()));
    clock.advance(5);
    expect(await store.jobs.start(id)).toMatchObject({ status: 'running', attempts: 1, updatedAt: clock.now() });
    const done = await store.jobs.complete(id, OK);
    expect(done).toMatchObject({ status: 'succeeded', result: { kind: 0, status: 200, returnCode: 0, mimeType: 'text/plain', bytes: 4 } });
    expect(done?.resultBody?.toString()).toBe('done');
    expect(store.jobs.countUnfinished()).toBe(0);
  });

  it('ends a job whose reply is not 2xx as failed', async () => {
    const { id } = inserted(await store.jobs.insert(sampleJob()));
    await store.jobs.start(id);
    expect(await store.jobs.complete(id, BOOM)).toMatchObject({ status: 'failed', result: { status: 500, returnCode: 251 } });
  });

  it('refuses a transition from the wrong state: nothing changes, and it resolves undefined', async () => {
    const { id } = inserted(await store.jobs.insert(sampleJob()));
    await expect(store.jobs.complete(id, OK)).resolves.toBeUndefined();
    await expect(store.jobs.retry(id, clock.now())).resolves.toBeUndefined();
    await expect(store.jobs.release(id)).resolves.toBeUndefined();
    await store.jobs.cancel(id);
    await expect(store.jobs.start(id)).resolves.toBeUndefined();
    await expect(store.jobs.cancel(id)).resolves.toBeUndefined();
    await expect(store.jobs.start('nope')).resolves.toBeUndefined();
    expect(store.jobs.get(id)).toMatchObject({ status: 'cancelled', attempts: 0 });
  });

  it('retries with the same key after a backoff, then holds, releases and fails', async () => {
    const { id, idempotencyKey } = inserted(await store.jobs.insert(sampleJob()));
    await store.jobs.start(id);
    const retried = await store.jobs.retry(id, clock.now() + 1000);
    expect(retried).toMatchObject({ status: 'queued', attempts: 1, nextAttemptAt: clock.now() + 1000, idempotencyKey });
    expect(await store.jobs.hold(id, 'hold-1', 'needs approval', clock.now())).toMatchObject({ status: 'on_hold', hold: 'hold-1' });
    expect(await store.jobs.release(id)).toMatchObject({ status: 'queued', nextAttemptAt: clock.now() });
    expect(await store.jobs.fail(id, BOOM)).toMatchObject({ status: 'failed' });
  });

  it('hands out due jobs earliest first, and tells when the next one is due', async () => {
    expect(store.jobs.nextDueAt()).toBeUndefined();
    const a = inserted(await store.jobs.insert(sampleJob()));
    const b = inserted(await store.jobs.insert(sampleJob({ target: 'server' })));
    await store.jobs.start(a.id);
    await store.jobs.retry(a.id, clock.now() + 500);
    expect(store.jobs.due(clock.now(), 10).map((j) => j.id)).toEqual([b.id]);
    expect(store.jobs.nextDueAt()).toBe(clock.now());
    await store.jobs.start(b.id);
    expect(store.jobs.nextDueAt()).toBe(clock.now() + 500);
    clock.advance(500);
    expect(store.jobs.due(clock.now(), 10).map((j) => j.id)).toEqual([a.id]);
    expect(store.jobs.due(clock.now(), 10, 'server')).toEqual([]);
    expect(store.jobs.due(clock.now(), 10, 'client/alice').map((j) => j.id)).toEqual([a.id]);
  });

  it('expires queued and held jobs past their TTL, and not running ones', async () => {
    const queued = inserted(await store.jobs.insert(sampleJob({ ttlMs: 100 })));
    const held = inserted(await store.jobs.insert(sampleJob({ ttlMs: 100 })));
    const running = inserted(await store.jobs.insert(sampleJob({ ttlMs: 100 })));
    const later = inserted(await store.jobs.insert(sampleJob({ ttlMs: 1000 })));
    // A hold that ends now leaves the job its own TTL, not more.
    await store.jobs.hold(held.id, 'h', 'r', clock.now());
    await store.jobs.start(running.id);
    expect(store.jobs.nextExpiryAt()).toBe(clock.now() + 100);
    clock.advance(99);
    expect(await store.jobs.expire(clock.now())).toEqual([]);
    clock.advance(1);
    expect(store.jobs.due(clock.now(), 10).map((j) => j.id)).toEqual([later.id]);
    expect((await store.jobs.expire(clock.now())).map((e) => e.id).sort()).toEqual([queued.id, held.id].sort());
    expect(store.jobs.get(running.id)?.status).toBe('running');
    expect(store.jobs.nextExpiryAt()).toBe(later.expiresAt);
    expect(store.jobs.countUnfinished()).toBe(2);
  });

  it('puts jobs that were running at a restart back in the queue, due now, with the same key', async () => {
    const dir = store.dir;
    const { id, idempotencyKey } = inserted(await store.jobs.insert(sampleJob()));
    await store.jobs.start(id);
    store.close();
    clock.advance(60);
    store = Store.open(dir, { clock: clock.now });
    expect(await store.jobs.recoverRunning()).toEqual([id]);
    expect(store.jobs.get(id)).toMatchObject({ status: 'queued', attempts: 1, nextAttemptAt: clock.now(), idempotencyKey });
    expect(await store.jobs.recoverRunning()).toEqual([]);
  });

  it('counts unfinished jobs exactly for --max-jobs, within one group commit too', async () => {
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => store.jobs.insert(sampleJob(), { maxUnfinished: 3 })));
    expect(outcomes.map((o) => o.status)).toEqual(['inserted', 'inserted', 'inserted', 'full', 'full']);
    expect(outcomes[3]).toEqual({ status: 'full', unfinished: 3 });
    expect(store.stats.commits).toBe(1);
    const first = inserted(outcomes[0]!);
    await store.jobs.cancel(first.id);
    expect(store.jobs.countUnfinished()).toBe(2);
    await expect(store.jobs.insert(sampleJob(), { maxUnfinished: 3 })).resolves.toMatchObject({ status: 'inserted' });
  });

  it('does not queue a second job with the same idempotency key', async () => {
    const [a, b] = await Promise.all([store.jobs.insert(sampleJob({ idempotencyKey: 'k' })), store.jobs.insert(sampleJob({ idempotencyKey: 'k' }))]);
    expect(a?.status).toBe('inserted');
    expect(b).toEqual({ status: 'duplicate', job: inserted(a!) });
    expect(store.jobs.countUnfinished()).toBe(1);
  });

  it('issues ids that sort in the order they were made, within one ms too', async () => {
    const ids = [];
    for (let i = 0; i < 50; i++) ids.push(inserted(await store.jobs.insert(sampleJob())).id);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(50);
  });
});

describe('JobStore: jobs on a far-side hold (SPEC §9)', () => {
  const HOLD = { id: '01HOLDHOLDHOLDHOLDHOLDHOLD', reason: 'needs a second pair of eyes' };

  it('puts a queued or running job on hold, keeping why and until when, and moves its expiry past the hold by its own TTL', async () => {
    const queued = inserted(await store.jobs.insert(sampleJob({ ttlMs: 60_000 })));
    const running = inserted(await store.jobs.insert(sampleJob({ ttlMs: 60_000 })));
    await store.jobs.start(running.id);
    clock.advance(1000);
    const holdExpiresAt = clock.now() + 600_000;
    const held = await store.jobs.hold(queued.id, HOLD.id, HOLD.reason, holdExpiresAt);
    expect(held).toMatchObject({ status: 'on_hold', hold: HOLD.id, holdReason: HOLD.reason, holdExpiresAt, expiresAt: holdExpiresAt + 60_000, updatedAt: clock.now() });
    expect(store.jobs.info(queued.id)).toMatchObject({ status: 'on_hold', holdReason: HOLD.reason, holdExpiresAt, expiresAt: holdExpiresAt + 60_000 });
    expect(await store.jobs.hold(running.id, HOLD.id, HOLD.reason, holdExpiresAt)).toMatchObject({ status: 'on_hold', attempts: 1 });
    // Twice on hold, or from an end: nothing changes.
    await expect(store.jobs.hold(queued.id, 'other', 'r', holdExpiresAt)).resolves.toBeUndefined();
    expect(store.jobs.nextExpiryAt()).toBe(holdExpiresAt + 60_000);
    expect(store.jobs.countUnfinished()).toBe(2);
  });

  it('never moves an expiry earlier for a hold that ends first', async () => {
    const job = inserted(await store.jobs.insert(sampleJob({ ttlMs: 60_000 })));
    clock.advance(50_000);
    // The hold ends 5 s from now, at created + 55 s: the job's own TTL counts again from there.
    const held = await store.jobs.hold(job.id, HOLD.id, HOLD.reason, clock.now() + 5_000);
    expect(held?.expiresAt).toBe(clock.now() + 5_000 + 60_000);
    const other = inserted(await store.jobs.insert(sampleJob({ ttlMs: 60_000 })));
    const past = await store.jobs.hold(other.id, HOLD.id, HOLD.reason, clock.now() - 120_000);
    expect(past?.expiresAt).toBe(other.expiresAt);
  });

  it('refuses a bad hold id, reason or expiry with InvalidArgumentError', async () => {
    const { id } = inserted(await store.jobs.insert(sampleJob()));
    await expect(store.jobs.hold(id, '', 'r', clock.now())).rejects.toThrow(InvalidArgumentError);
    await expect(store.jobs.hold(id, 'h', 'x'.repeat(1025), clock.now())).rejects.toThrow(/reason/);
    await expect(store.jobs.hold(id, 'h', 'r', Number.NaN)).rejects.toThrow(/expiry/);
    await expect(store.jobs.insertHeld(sampleJob(), { ...HOLD, expiresAt: 1.5 })).rejects.toThrow(/expiry/);
    expect(store.jobs.get(id)?.status).toBe('queued');
  });

  it('makes a job born on hold: delivered once, counted unfinished, its expiry past the hold', async () => {
    const expiresAt = clock.now() + 600_000;
    const job = inserted(await store.jobs.insertHeld(sampleJob({ ttlMs: 60_000, idempotencyKey: 'sync-1' }), { ...HOLD, expiresAt }));
    const expected = {
      status: 'on_hold', attempts: 1, hold: HOLD.id, holdReason: HOLD.reason, holdExpiresAt: expiresAt, expiresAt: expiresAt + 60_000,
      idempotencyKey: 'sync-1', createdAt: clock.now(), result: null,
    };
    expect(job).toMatchObject(expected);
    expect(store.jobs.get(job.id)).toEqual(job);
    expect(store.jobs.countUnfinished()).toBe(1);
    expect(store.jobs.due(clock.now(), 10)).toEqual([]);
    store.close();
    store = Store.open(join(tmp.dir, 'd'), { clock: clock.now });
    expect(store.jobs.info(job.id)).toMatchObject(expected);
  });

  it('answers a held insert with the job that has its key, and refuses one past --max-jobs', async () => {
    const ref = { ...HOLD, expiresAt: clock.now() + 1000 };
    const first = inserted(await store.jobs.insert(sampleJob({ idempotencyKey: 'k' })));
    await expect(store.jobs.insertHeld(sampleJob({ idempotencyKey: 'k' }), ref)).resolves.toEqual({ status: 'duplicate', job: first });
    const outcomes = await Promise.all([store.jobs.insertHeld(sampleJob(), ref, { maxUnfinished: 2 }), store.jobs.insertHeld(sampleJob(), ref, { maxUnfinished: 2 })]);
    expect(outcomes.map((o) => o.status)).toEqual(['inserted', 'full']);
    expect(outcomes[1]).toEqual({ status: 'full', unfinished: 2 });
  });

  it("releases the target's jobs on that hold, due now, and no other", async () => {
    const ref = { ...HOLD, expiresAt: clock.now() + 1000 };
    const a = inserted(await store.jobs.insertHeld(sampleJob(), ref));
    const b = inserted(await store.jobs.insert(sampleJob()));
    await store.jobs.hold(b.id, HOLD.id, HOLD.reason, ref.expiresAt);
    const otherTarget = inserted(await store.jobs.insertHeld(sampleJob({ target: 'server' }), ref));
    const otherHold = inserted(await store.jobs.insertHeld(sampleJob(), { ...ref, id: 'another-hold' }));
    const cancelled = inserted(await store.jobs.insertHeld(sampleJob(), ref));
    await store.jobs.cancel(cancelled.id);
    clock.advance(300);
    expect((await store.jobs.releaseHeld('client/alice', HOLD.id)).sort()).toEqual([a.id, b.id].sort());
    for (const id of [a.id, b.id]) expect(store.jobs.info(id)).toMatchObject({ status: 'queued', nextAttemptAt: clock.now(), updatedAt: clock.now(), hold: HOLD.id });
    expect(store.jobs.due(clock.now(), 10, 'client/alice').map((j) => j.id).sort()).toEqual([a.id, b.id].sort());
    expect(store.jobs.info(otherTarget.id)?.status).toBe('on_hold');
    expect(store.jobs.info(otherHold.id)?.status).toBe('on_hold');
    expect(store.jobs.info(cancelled.id)?.status).toBe('cancelled');
    expect(await store.jobs.releaseHeld('client/alice', HOLD.id)).toEqual([]);
  });
});
