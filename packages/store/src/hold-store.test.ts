import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@restpipe/errors';
import { DATABASE_FILE, isJobId, MAX_HOLD_TTL_MS, Store, type Hold, type JobResult, type NewHold, type StoredReply } from './index.js';
import { fakeClock, heldFingerprint, killHard, sampleHold, startStoreChild, tempDir, type StoreChild } from './test-support/helpers.js';

let tmp: ReturnType<typeof tempDir>;
let clock: ReturnType<typeof fakeClock>;
let store: Store;
let child: StoreChild | undefined;
const TTL = 10_000;
beforeEach(() => {
  tmp = tempDir();
  clock = fakeClock();
  store = Store.open(join(tmp.dir, 'd'), { clock: clock.now, idempotencyTtlMs: TTL });
});
afterEach(async () => {
  if (child) await killHard(child);
  child = undefined;
  store.close();
  tmp.remove();
});

const HELD: StoredReply = { kind: 2, status: 202, returnCode: 0, mimeType: 'application/json', body: Buffer.from('{"hold":"h"}') };
const OK: JobResult = { kind: 0, status: 200, returnCode: 0, mimeType: 'application/json', body: Buffer.from('{"sent":true}') };
const DENIED: JobResult = { kind: 1, status: 403, returnCode: 252, mimeType: 'application/json', body: Buffer.from('{"exception":{"class":"HoldDeniedError"}}') };
const EXPIRED: JobResult = { kind: 1, status: 403, returnCode: 252, mimeType: 'application/json', body: Buffer.from('{"exception":{"class":"HoldExpiredError"}}') };
const UNKNOWN: JobResult = { kind: 1, status: 500, returnCode: 251, mimeType: 'application/json', body: Buffer.from('{"exception":{"class":"IndeterminateError"}}') };
const FP = heldFingerprint();

function reopen(): void {
  const dir = store.dir;
  store.close();
  store = Store.open(dir, { clock: clock.now, idempotencyTtlMs: TTL });
}

/** What a repeat of `key` from alice would be answered, read back through the gate's own begin. */
async function recordOf(key: string): Promise<{ state: string; status?: number; body?: string }> {
  const outcome = await store.idempotency.begin('alice', key, FP);
  if (outcome.state !== 'done') return { state: outcome.state };
  return { state: 'done', status: outcome.reply.status, body: Buffer.from(outcome.reply.body).toString() };
}

async function keyed(key: string, overrides: Partial<NewHold> = {}): Promise<Hold> {
  return store.holds.create(sampleHold({ idempotencyKey: key, ...overrides }), HELD);
}

describe('HoldStore: making and reading holds', () => {
  it('keeps a held event as given, pending, with one history entry, under a sortable id', async () => {
    const hold = await store.holds.create(sampleHold());
    expect(isJobId(hold.id)).toBe(true);
    expect(hold).toMatchObject({
      peer: 'alice', status: 'pending', verb: 'post', noun: ['payments', 'send'], args: ['acct-7'], query: [{ key: 'currency', values: ['EUR'] }],
      mimeType: 'application/json', requestId: 'req-h1', timeoutMs: 5000, idempotencyKey: '', attempt: 1, digest: FP,
      reason: 'payments over 50 EUR need a second pair of eyes', createdAt: clock.now(), expiresAt: clock.now() + 600_000,
      decidedBy: null, decidedAt: null, decisionReason: null, result: null, announced: false, collected: false, resultBody: null,
      history: [{ status: 'pending', at: clock.now(), by: null, reason: 'payments over 50 EUR need a second pair of eyes' }],
    });
    expect(hold.body.toString()).toBe('{"amount":100}');
    expect(store.holds.get(hold.id)).toEqual(hold);
    const { body: _body, resultBody: _resultBody, ...info } = hold;
    expect(store.holds.info(hold.id)).toEqual(info);
  });

  it('answers undefined for an unknown or malformed id, for reads and for transitions', async () => {
    for (const id of ['01ZZZZZZZZZZZZZZZZZZZZZZZZ', 'nope', '', '../x']) {
      expect(store.holds.get(id)).toBeUndefined();
      expect(store.holds.info(id)).toBeUndefined();
      await expect(store.holds.approve(id, 'local', null)).resolves.toBeUndefined();
      await expect(store.holds.deny(id, 'local', null, DENIED)).resolves.toBeUndefined();
      await expect(store.holds.setOutcome(id, OK)).resolves.toBeUndefined();
      await expect(store.holds.markAnnounced(id)).resolves.toBeUndefined();
    }
  });

  it('lists newest first, by status, up to a limit', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await store.holds.create(sampleHold())).id);
      clock.advance(10);
    }
    await store.holds.approve(ids[1]!, 'local', null);
    await store.holds.deny(ids[3]!, 'local', null, DENIED);
    expect(store.holds.list({ limit: 10 }).map((h) => h.id)).toEqual([...ids].reverse());
    expect(store.holds.list({ limit: 2 }).map((h) => h.id)).toEqual([ids[4], ids[3]]);
    expect(store.holds.list({ status: 'pending', limit: 10 }).map((h) => h.id)).toEqual([ids[4], ids[2], ids[0]]);
    expect(store.holds.list({ status: 'approved', limit: 10 }).map((h) => h.id)).toEqual([ids[1]]);
    expect(store.holds.list({ status: 'expired', limit: 10 })).toEqual([]);
    expect(() => store.holds.list({ limit: -1 })).toThrow(InvalidArgumentError);
    expect(() => store.holds.list({ status: 'on_hold' as never, limit: 1 })).toThrow(/hold status/);
  });

  it('refuses a bad field with InvalidArgumentError before anything is written', async () => {
    const bad: Array<[Partial<NewHold>, RegExp]> = [
      [{ peer: '' }, /peer/],
      [{ verb: '' }, /verb/],
      [{ noun: [] }, /noun/],
      [{ args: [1] as never }, /args/],
      [{ query: [{ key: 'a' }] as never }, /query/],
      [{ body: 'text' as never }, /body/],
      [{ timeoutMs: -1 }, /timeoutMs/],
      [{ idempotencyKey: '' }, /idempotencyKey/],
      [{ attempt: 0 }, /attempt/],
      [{ attempt: 1.5 }, /attempt/],
      [{ digest: 'A'.repeat(64) }, /digest/],
      [{ digest: 'ab' }, /digest/],
      [{ reason: 'x'.repeat(1025) }, /reason/],
      [{ reason: 7 as never }, /reason/],
      [{ ttlMs: 0 }, /ttlMs/],
      [{ ttlMs: 1.5 }, /ttlMs/],
      [{ ttlMs: MAX_HOLD_TTL_MS + 1 }, /ttlMs/],
    ];
    for (const [overrides, message] of bad) {
      await expect(store.holds.create({ ...sampleHold(), ...overrides }), JSON.stringify(overrides)).rejects.toThrow(message);
    }
    await expect(store.holds.create(sampleHold(), { ...HELD, status: -1 })).rejects.toThrow(InvalidArgumentError);
    expect(store.holds.list({ limit: 100 })).toEqual([]);
    expect(store.stats.commits).toBe(0);
    // The limits themselves are fine.
    const longest = await store.holds.create({ ...sampleHold(), reason: 'x'.repeat(1024), ttlMs: MAX_HOLD_TTL_MS });
    expect(longest.expiresAt - longest.createdAt).toBe(2_592_000_000);
  });

  it('keeps holds and their decisions across a close and reopen', async () => {
    const pending = await keyed('k1');
    const approved = await keyed('k2');
    await store.holds.approve(approved.id, 'key-ops', 'looks right');
    await store.holds.setOutcome(approved.id, OK);
    await store.holds.markAnnounced(pending.id);
    const before = [store.holds.get(pending.id), store.holds.get(approved.id)];
    reopen();
    expect([store.holds.get(pending.id), store.holds.get(approved.id)]).toEqual(before);
    expect(store.holds.get(approved.id)?.resultBody?.toString()).toBe('{"sent":true}');
    await expect(recordOf('k2')).resolves.toEqual({ state: 'done', status: 200, body: '{"sent":true}' });
  });
});

describe('the holds table', () => {
  it('refuses, by its own constraints, a row that breaks the rules of a hold', async () => {
    const { id } = await store.holds.create(sampleHold());
    store.close();
    const raw = new Database(join(tmp.dir, 'd', DATABASE_FILE));
    try {
      // Times in the history are whole numbers, as JSON writes them.
      const reason = sampleHold().reason;
      expect(raw.prepare('SELECT history FROM holds WHERE id = ?').pluck().get(id)).toBe(JSON.stringify([{ status: 'pending', at: clock.now(), by: null, reason }]));
      const breaking = [
        `status = 'approved'`, // decided without decided_at
        `decided_at = 1`, // pending, yet decided
        `status = 'denied', decided_at = 1`, // denied without an outcome
        `result_status = 200`, // pending with an outcome
        `collected = 1`, // collected without an outcome
        `announced = 2`,
        `status = 'on_hold'`,
        `digest = upper(digest)`,
        `history = '{}'`,
        `idempotency_key = ''`,
        `attempt = 0`,
      ];
      for (const set of breaking) expect(() => raw.prepare(`UPDATE holds SET ${set} WHERE id = ?`).run(id), set).toThrow(/CHECK constraint failed/);
      expect(() => raw.prepare(`UPDATE holds SET status = 'approved', decided_at = 1 WHERE id = ?`).run(id)).not.toThrow();
    } finally {
      raw.close();
      store = Store.open(join(tmp.dir, 'd'), { clock: clock.now });
    }
  });
});

describe('HoldStore: the idempotency record follows the hold', () => {
  it('is set to the "held" reply in the write that makes the hold, the key begun or not', async () => {
    await expect(store.idempotency.begin('alice', 'begun', FP)).resolves.toEqual({ state: 'new' });
    const commits = store.stats.commits;
    await keyed('begun');
    // The hold and its key's record: one commit.
    expect(store.stats.commits).toBe(commits + 1);
    await keyed('fresh');
    await expect(recordOf('begun')).resolves.toEqual({ state: 'done', status: 202, body: '{"hold":"h"}' });
    await expect(recordOf('fresh')).resolves.toEqual({ state: 'done', status: 202, body: '{"hold":"h"}' });
    // No key, or no reply: no record.
    await store.holds.create(sampleHold());
    await store.holds.create(sampleHold({ idempotencyKey: 'no-reply' }));
    await expect(store.idempotency.begin('alice', 'no-reply', FP)).resolves.toEqual({ state: 'new' });
  });

  it('takes the "held" reply from a function of the new hold, and keeps nothing if that throws', async () => {
    const hold = await store.holds.create(sampleHold({ idempotencyKey: 'k' }), (h) => ({ ...HELD, body: Buffer.from(JSON.stringify({ hold: h.id })) }));
    await expect(recordOf('k')).resolves.toEqual({ state: 'done', status: 202, body: JSON.stringify({ hold: hold.id }) });
    await store.idempotency.begin('alice', 'boom', FP);
    await expect(store.holds.create(sampleHold({ idempotencyKey: 'boom' }), () => { throw new Error('no reply'); })).rejects.toThrow('no reply');
    await expect(store.holds.create(sampleHold({ idempotencyKey: 'boom' }), () => ({ ...HELD, body: 'x' as never }))).rejects.toThrow(InvalidArgumentError);
    expect(store.holds.list({ limit: 10 }).map((h) => h.id)).toEqual([hold.id]);
    await expect(recordOf('boom')).resolves.toEqual({ state: 'started' });
  });

  it('answers a repeat "held" after the node is killed right after making the hold', async () => {
    const dir = join(tmp.dir, 'killed');
    child = startStoreChild('held', dir, 'order-9');
    await child.waitForLines(1);
    const holdId = child.lines[0]!;
    await killHard(child);
    expect(child.child.signalCode).toBe('SIGKILL');
    store.close();
    store = Store.open(dir, { clock: clock.now, idempotencyTtlMs: TTL });
    expect(store.holds.info(holdId)).toMatchObject({ status: 'pending', idempotencyKey: 'order-9' });
    // Begun by a boot that died: without the hold's write this would be indeterminate.
    await expect(recordOf('order-9')).resolves.toEqual({ state: 'done', status: 202, body: JSON.stringify({ hold: holdId }) });
  });

  it('keeps the "held" record while the hold is pending, past the idempotency TTL', async () => {
    await keyed('long', { ttlMs: 5 * TTL });
    clock.advance(4 * TTL);
    expect(await store.idempotency.prune(clock.now())).toBe(0);
    await expect(recordOf('long')).resolves.toMatchObject({ state: 'done', status: 202 });
  });

  it('is set to the outcome on deny, setOutcome, expire and recoverRunning', async () => {
    const denied = await keyed('denied');
    const approved = await keyed('approved');
    const expiring = await keyed('expiring', { ttlMs: 1000 });
    const running = await keyed('running');
    await store.holds.deny(denied.id, 'local', 'no', DENIED);
    await store.holds.approve(approved.id, 'local', null);
    await store.holds.approve(running.id, 'local', null);
    // Approved, the handler not done yet: a repeat still gets "held".
    await expect(recordOf('approved')).resolves.toMatchObject({ state: 'done', status: 202 });
    await store.holds.setOutcome(approved.id, OK);
    clock.advance(1000);
    await store.holds.expire(clock.now(), EXPIRED);
    reopen();
    await store.holds.recoverRunning(UNKNOWN);
    expect(store.holds.info(expiring.id)?.status).toBe('expired');
    await expect(recordOf('denied')).resolves.toEqual({ state: 'done', status: 403, body: DENIED.body.toString() });
    await expect(recordOf('approved')).resolves.toEqual({ state: 'done', status: 200, body: OK.body.toString() });
    await expect(recordOf('expiring')).resolves.toEqual({ state: 'done', status: 403, body: EXPIRED.body.toString() });
    await expect(recordOf('running')).resolves.toEqual({ state: 'done', status: 500, body: UNKNOWN.body.toString() });
  });

  it("undoes the hold's change whenever its key's record cannot be written: both or neither", async () => {
    const denied = await keyed('poison-deny');
    const approved = await keyed('poison-outcome');
    const running = await keyed('poison-recover');
    const expiring = await keyed('fine', { ttlMs: 1000 });
    const poisoned = await keyed('poison-expire', { ttlMs: 1000 });
    await store.holds.approve(approved.id, 'local', null);
    await store.holds.approve(running.id, 'local', null);
    // Fault injection in SQLite itself: any write of a record whose key starts with "poison" aborts.
    const dir = store.dir;
    store.close();
    const raw = new Database(join(dir, DATABASE_FILE));
    raw.exec(`CREATE TRIGGER poison_insert BEFORE INSERT ON idempotency WHEN NEW.key LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'poisoned'); END;
      CREATE TRIGGER poison_update BEFORE UPDATE ON idempotency WHEN NEW.key LIKE 'poison%' BEGIN SELECT RAISE(ABORT, 'poisoned'); END;`);
    raw.close();
    store = Store.open(dir, { clock: clock.now, idempotencyTtlMs: TTL });

    await expect(keyed('poison-create')).rejects.toThrow(/poisoned/);
    await expect(store.holds.deny(denied.id, 'local', null, DENIED)).rejects.toThrow(/poisoned/);
    await expect(store.holds.setOutcome(approved.id, OK)).rejects.toThrow(/poisoned/);
    await expect(store.holds.recoverRunning(UNKNOWN)).rejects.toThrow(/poisoned/);
    clock.advance(1000);
    await expect(store.holds.expire(clock.now(), EXPIRED)).rejects.toThrow(/poisoned/);

    expect(store.holds.list({ limit: 10 })).toHaveLength(5);
    expect(store.holds.info(denied.id)).toMatchObject({ status: 'pending', decidedAt: null, result: null });
    expect(store.holds.info(approved.id)).toMatchObject({ status: 'approved', result: null });
    expect(store.holds.info(running.id)).toMatchObject({ status: 'approved', result: null });
    // One poisoned record undoes the whole expiry, the fine hold's too.
    expect(store.holds.info(expiring.id)).toMatchObject({ status: 'pending', result: null });
    expect(store.holds.info(poisoned.id)).toMatchObject({ status: 'pending', result: null });
    await expect(recordOf('fine')).resolves.toMatchObject({ state: 'done', status: 202 });
  });

  it('makes the record again when it was pruned before the outcome came', async () => {
    const hold = await keyed('gone', { ttlMs: 1000 });
    await store.holds.approve(hold.id, 'local', null);
    clock.advance(TTL);
    expect(await store.idempotency.prune(clock.now())).toBe(1);
    await store.holds.setOutcome(hold.id, OK);
    await expect(recordOf('gone')).resolves.toEqual({ state: 'done', status: 200, body: OK.body.toString() });
  });
});

describe('HoldStore: decisions', () => {
  it('approves a pending hold once, keeping who, when and why, and hands back its body', async () => {
    const { id } = await store.holds.create(sampleHold());
    clock.advance(50);
    const approved = await store.holds.approve(id, 'key-ops', 'checked by phone');
    expect(approved).toMatchObject({
      status: 'approved', decidedBy: 'key-ops', decidedAt: clock.now(), decisionReason: 'checked by phone', result: null,
      history: [{ status: 'pending', by: null }, { status: 'approved', at: clock.now(), by: 'key-ops', reason: 'checked by phone' }],
    });
    expect(approved?.body.toString()).toBe('{"amount":100}');
    await expect(store.holds.approve(id, 'someone-else', null)).resolves.toBeUndefined();
    await expect(store.holds.deny(id, 'someone-else', null, DENIED)).resolves.toBeUndefined();
    expect(store.holds.info(id)).toMatchObject({ status: 'approved', decidedBy: 'key-ops' });
    expect(store.holds.info(id)?.history).toHaveLength(2);
  });

  it('denies a pending hold once, with its outcome', async () => {
    const { id } = await store.holds.create(sampleHold());
    const denied = await store.holds.deny(id, 'api-key', null, DENIED);
    expect(denied).toMatchObject({
      status: 'denied', decidedBy: 'api-key', decidedAt: clock.now(), decisionReason: null,
      result: { kind: 1, status: 403, returnCode: 252, mimeType: 'application/json', bytes: DENIED.body.length },
      history: [{ status: 'pending' }, { status: 'denied', by: 'api-key', reason: null }],
    });
    expect(denied?.resultBody?.toString()).toBe(DENIED.body.toString());
    await expect(store.holds.deny(id, 'api-key', null, DENIED)).resolves.toBeUndefined();
    await expect(store.holds.approve(id, 'api-key', null)).resolves.toBeUndefined();
    await expect(store.holds.setOutcome(id, OK)).resolves.toBeUndefined();
    expect(store.holds.info(id)?.status).toBe('denied');
  });

  it('takes no decision once the hold is past its expiry, expired yet or not', async () => {
    const { id, expiresAt } = await store.holds.create(sampleHold({ ttlMs: 1000 }));
    clock.set(expiresAt - 1);
    const other = await store.holds.create(sampleHold({ ttlMs: 1000 }));
    clock.set(expiresAt);
    await expect(store.holds.approve(id, 'local', null)).resolves.toBeUndefined();
    await expect(store.holds.deny(id, 'local', null, DENIED)).resolves.toBeUndefined();
    expect(store.holds.info(id)).toMatchObject({ status: 'pending', decidedAt: null });
    // One ms before its own expiry, the other still takes one.
    await expect(store.holds.approve(other.id, 'local', null)).resolves.toMatchObject({ status: 'approved' });
  });

  it('refuses a bad decider, reason or result with InvalidArgumentError', async () => {
    const { id } = await store.holds.create(sampleHold());
    await expect(store.holds.approve(id, '', null)).rejects.toThrow(/decidedBy/);
    await expect(store.holds.approve(id, 'local', 'x'.repeat(1025))).rejects.toThrow(/reason/);
    await expect(store.holds.deny(id, 'local', null, { ...DENIED, body: 'x' as never })).rejects.toThrow(InvalidArgumentError);
    await expect(store.holds.setOutcome(id, { ...OK, status: 1.5 })).rejects.toThrow(InvalidArgumentError);
    expect(store.holds.info(id)?.status).toBe('pending');
  });

  it('sets the outcome of an approved hold once, and of no other', async () => {
    const { id } = await store.holds.create(sampleHold());
    await expect(store.holds.setOutcome(id, OK)).resolves.toBeUndefined();
    await store.holds.approve(id, 'local', null);
    const done = await store.holds.setOutcome(id, OK);
    expect(done).toMatchObject({ status: 'approved', result: { kind: 0, status: 200, returnCode: 0, bytes: OK.body.length } });
    expect(done?.resultBody?.toString()).toBe('{"sent":true}');
    await expect(store.holds.setOutcome(id, { ...OK, status: 201 })).resolves.toBeUndefined();
    expect(store.holds.info(id)?.result?.status).toBe(200);
    // The outcome is not a transition: the history still ends with the approval.
    expect(store.holds.info(id)?.history.map((e) => e.status)).toEqual(['pending', 'approved']);
  });
});

describe('HoldStore: expiry and restarts', () => {
  it('expires pending holds past their expiry, and tells when the next one falls due', async () => {
    expect(store.holds.nextExpiryAt()).toBeUndefined();
    const soon = await store.holds.create(sampleHold({ ttlMs: 100 }));
    const approved = await store.holds.create(sampleHold({ ttlMs: 100 }));
    const later = await store.holds.create(sampleHold({ ttlMs: 1000 }));
    await store.holds.approve(approved.id, 'local', null);
    expect(store.holds.nextExpiryAt()).toBe(soon.expiresAt);
    clock.advance(99);
    expect(await store.holds.expire(clock.now(), EXPIRED)).toEqual([]);
    clock.advance(1);
    const ended = await store.holds.expire(clock.now(), EXPIRED);
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({
      id: soon.id, status: 'expired', decidedBy: null, decidedAt: clock.now(), decisionReason: null, result: { status: 403, returnCode: 252 },
      history: [{ status: 'pending' }, { status: 'expired', at: clock.now(), by: null, reason: null }],
    });
    expect(store.holds.info(soon.id)).toEqual(ended[0]);
    expect(store.holds.info(approved.id)?.status).toBe('approved');
    expect(store.holds.nextExpiryAt()).toBe(later.expiresAt);
    expect(await store.holds.expire(clock.now(), EXPIRED)).toEqual([]);
    await expect(store.holds.expire(Number.NaN, EXPIRED)).rejects.toThrow(InvalidArgumentError);
  });

  it('gives the approved holds that were running at a restart their outcome, once', async () => {
    const running = await store.holds.create(sampleHold());
    const finished = await store.holds.create(sampleHold());
    const pending = await store.holds.create(sampleHold());
    await store.holds.approve(running.id, 'local', null);
    await store.holds.approve(finished.id, 'local', null);
    await store.holds.setOutcome(finished.id, OK);
    reopen();
    const recovered = await store.holds.recoverRunning(UNKNOWN);
    expect(recovered.map((h) => h.id)).toEqual([running.id]);
    expect(recovered[0]).toMatchObject({ status: 'approved', result: { status: 500, returnCode: 251 } });
    expect(store.holds.info(finished.id)?.result?.status).toBe(200);
    expect(store.holds.info(pending.id)?.result).toBeNull();
    expect(await store.holds.recoverRunning(UNKNOWN)).toEqual([]);
  });
});

describe('HoldStore: announcing, collecting and pruning', () => {
  it('lists pending holds not announced yet, oldest first, until marked', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await store.holds.create(sampleHold())).id);
    await store.holds.deny(ids[3]!, 'local', null, DENIED);
    expect(store.holds.unannounced(10).map((h) => h.id)).toEqual(ids.slice(0, 3));
    expect(store.holds.unannounced(2).map((h) => h.id)).toEqual(ids.slice(0, 2));
    await store.holds.markAnnounced(ids[0]!);
    await store.holds.markAnnounced(ids[0]!);
    expect(store.holds.info(ids[0]!)?.announced).toBe(true);
    reopen();
    expect(store.holds.unannounced(10).map((h) => h.id)).toEqual([ids[1], ids[2]]);
  });

  it("lists a peer's outcomes not fetched yet, oldest first, until marked collected", async () => {
    const a1 = await store.holds.create(sampleHold());
    const a2 = await store.holds.create(sampleHold());
    const b1 = await store.holds.create(sampleHold({ peer: 'bob' }));
    const a3 = await store.holds.create(sampleHold());
    await store.holds.deny(a2.id, 'local', null, DENIED);
    await store.holds.deny(b1.id, 'local', null, DENIED);
    await store.holds.approve(a1.id, 'local', null);
    expect(store.holds.uncollected('alice', 10)).toEqual([a2.id]);
    await store.holds.setOutcome(a1.id, OK);
    expect(store.holds.uncollected('alice', 10)).toEqual([a1.id, a2.id]);
    expect(store.holds.uncollected('alice', 1)).toEqual([a1.id]);
    expect(store.holds.uncollected('bob', 10)).toEqual([b1.id]);
    // A hold without an outcome has nothing to collect.
    await store.holds.markCollected(a3.id);
    expect(store.holds.info(a3.id)?.collected).toBe(false);
    await store.holds.markCollected(a1.id);
    expect(store.holds.uncollected('alice', 10)).toEqual([a2.id]);
    expect(store.holds.info(a1.id)?.collected).toBe(true);
  });

  it('prunes the holds whose outcome was set by `before`, in batches, their bodies with them', async () => {
    const many = await Promise.all(Array.from({ length: 1_205 }, () => store.holds.create(sampleHold({ ttlMs: 100 }))));
    const pending = await store.holds.create(sampleHold());
    const running = await store.holds.create(sampleHold());
    await store.holds.approve(running.id, 'local', null);
    clock.advance(100);
    expect(await store.holds.expire(clock.now(), EXPIRED)).toHaveLength(1_205);
    const decidedAt = clock.now();
    clock.advance(1000);
    const late = await store.holds.create(sampleHold());
    await store.holds.deny(late.id, 'local', null, DENIED);
    expect(await store.holds.prune(decidedAt - 1)).toBe(0);
    const commits = store.stats.commits;
    expect(await store.holds.prune(decidedAt)).toBe(1_205);
    expect(store.stats.commits - commits).toBe(2);
    expect(many.filter((h) => store.holds.get(h.id) !== undefined)).toEqual([]);
    expect(store.holds.list({ limit: 10 }).map((h) => h.id).sort()).toEqual([pending.id, running.id, late.id].sort());
    store.close();
    const raw = new Database(join(tmp.dir, 'd', DATABASE_FILE), { readonly: true });
    expect(raw.prepare('SELECT count(*) AS n FROM hold_bodies').get()).toEqual({ n: 3 });
    raw.close();
    store = Store.open(join(tmp.dir, 'd'), { clock: clock.now });
  });
});
