import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { requestFingerprint, Store, type StoredReply } from './index.js';
import { fakeClock, tempDir } from './test-support/helpers.js';

let tmp: ReturnType<typeof tempDir>;
let clock: ReturnType<typeof fakeClock>;
let store: Store;
const TTL = 10_000;
beforeEach(() => {
  tmp = tempDir();
  clock = fakeClock();
  store = Store.open(join(tmp.dir, 'd'), { clock: clock.now, idempotencyTtlMs: TTL });
});
afterEach(() => {
  store.close();
  tmp.remove();
});

const REQUEST = { verb: 'post', noun: ['orders'], args: ['1'], query: [{ key: 'a', values: ['x'] }], body: Buffer.from('{"n":1}') };
const FP = requestFingerprint(REQUEST);
const REPLY: StoredReply = { kind: 0, status: 200, returnCode: 0, mimeType: 'application/json', body: Buffer.from('{"ok":true}') };

describe('IdempotencyStore', () => {
  it('records a new key as started, durably, then replays its reply once finished', async () => {
    await expect(store.idempotency.begin('client/alice', 'k1', FP)).resolves.toEqual({ state: 'new' });
    expect(store.stats.commits).toBe(1);
    // In use while the first request runs.
    await expect(store.idempotency.begin('client/alice', 'k1', FP)).resolves.toEqual({ state: 'started' });
    await expect(store.idempotency.finish('client/alice', 'k1', REPLY)).resolves.toBe(true);
    const replay = await store.idempotency.begin('client/alice', 'k1', FP);
    expect(replay.state).toBe('done');
    if (replay.state === 'done') expect({ ...replay.reply, body: Buffer.from(replay.reply.body).toString() }).toEqual({ ...REPLY, body: '{"ok":true}' });
    // Answers from committed records cost no commit.
    expect(store.stats.commits).toBe(2);
  });

  it('keeps an exception reply for replay too', async () => {
    await store.idempotency.begin('server', 'k', FP);
    const failure: StoredReply = { kind: 1, status: 500, returnCode: 251, mimeType: 'application/json', body: Buffer.from('{"exception":{}}') };
    await store.idempotency.finish('server', 'k', failure);
    await expect(store.idempotency.begin('server', 'k', FP)).resolves.toMatchObject({ state: 'done', reply: { kind: 1, status: 500, returnCode: 251 } });
  });

  it('answers mismatch for the same key with another request, started or done', async () => {
    const other = requestFingerprint({ ...REQUEST, body: Buffer.from('{"n":2}') });
    await store.idempotency.begin('server', 'k', FP);
    await expect(store.idempotency.begin('server', 'k', other)).resolves.toEqual({ state: 'mismatch' });
    await store.idempotency.finish('server', 'k', REPLY);
    await expect(store.idempotency.begin('server', 'k', other)).resolves.toEqual({ state: 'mismatch' });
  });

  it('scopes keys per sending peer', async () => {
    await store.idempotency.begin('client/alice', 'k', FP);
    await expect(store.idempotency.begin('client/bob', 'k', FP)).resolves.toEqual({ state: 'new' });
  });

  it('lets only one of two begins of one key in one turn be new', async () => {
    const outcomes = await Promise.all([store.idempotency.begin('server', 'k', FP), store.idempotency.begin('server', 'k', FP)]);
    expect(outcomes.map((o) => o.state)).toEqual(['new', 'started']);
    expect(store.stats.commits).toBe(1);
  });

  it('calls a key that an earlier boot started and never finished indeterminate, until it is finished', async () => {
    await store.idempotency.begin('server', 'k', FP);
    const dir = store.dir;
    store.close();
    store = Store.open(dir, { clock: clock.now, idempotencyTtlMs: TTL });
    await expect(store.idempotency.begin('server', 'k', FP)).resolves.toEqual({ state: 'indeterminate' });
    // The node records the outcome it answers with (IndeterminateError), and replays that.
    await expect(store.idempotency.finish('server', 'k', { ...REPLY, kind: 1, status: 500 })).resolves.toBe(true);
    await expect(store.idempotency.begin('server', 'k', FP)).resolves.toMatchObject({ state: 'done', reply: { status: 500 } });
  });

  it('finishes only a started key', async () => {
    await expect(store.idempotency.finish('server', 'never', REPLY)).resolves.toBe(false);
    await store.idempotency.begin('server', 'k', FP);
    await store.idempotency.finish('server', 'k', REPLY);
    await expect(store.idempotency.finish('server', 'k', { ...REPLY, status: 201 })).resolves.toBe(false);
    await expect(store.idempotency.begin('server', 'k', FP)).resolves.toMatchObject({ reply: { status: 200 } });
  });

  it('forgets keys after the TTL, and prunes them, but never one this boot is still running', async () => {
    await store.idempotency.begin('server', 'done', FP);
    await store.idempotency.finish('server', 'done', REPLY);
    await store.idempotency.begin('server', 'running', FP);
    clock.advance(TTL - 1);
    expect(await store.idempotency.prune(clock.now())).toBe(0);
    expect(store.idempotency.peek('server', 'done', FP)?.state).toBe('done');
    clock.advance(1);
    // Past the TTL a finished key is new again, pruned or not.
    expect(store.idempotency.peek('server', 'done', FP)).toBeUndefined();
    expect(await store.idempotency.prune(clock.now())).toBe(1);
    await expect(store.idempotency.begin('server', 'running', FP)).resolves.toEqual({ state: 'started' });
    await expect(store.idempotency.begin('server', 'done', FP)).resolves.toEqual({ state: 'new' });
  });

  it('prunes an abandoned started key of an earlier boot once its TTL is over', async () => {
    await store.idempotency.begin('server', 'k', FP);
    const dir = store.dir;
    store.close();
    store = Store.open(dir, { clock: clock.now, idempotencyTtlMs: TTL });
    clock.advance(TTL);
    expect(await store.idempotency.prune(clock.now())).toBe(1);
  });
});

describe('requestFingerprint', () => {
  it('is the same for the same request, whatever the order of query keys', () => {
    const reordered = { ...REQUEST, query: [{ key: 'b', values: ['2'] }, { key: 'a', values: ['x'] }] };
    const ordered = { ...REQUEST, query: [{ key: 'a', values: ['x'] }, { key: 'b', values: ['2'] }] };
    expect(requestFingerprint(reordered)).toBe(requestFingerprint(ordered));
    expect(FP).toMatch(/^[0-9a-f]{64}$/);
  });

  it('differs when verb, noun, args, query values or body differ', () => {
    const variants = [
      { ...REQUEST, verb: 'put' },
      { ...REQUEST, noun: ['orders', 'x'] },
      { ...REQUEST, args: ['2'] },
      { ...REQUEST, args: [] },
      { ...REQUEST, query: [{ key: 'a', values: ['y'] }] },
      { ...REQUEST, query: [{ key: 'a', values: ['x', 'x'] }] },
      { ...REQUEST, body: Buffer.from('{"n":1} ') },
      { ...REQUEST, body: undefined },
    ];
    const prints = new Set([FP, ...variants.map(requestFingerprint)]);
    expect(prints.size).toBe(variants.length + 1);
  });
});
