/**
 * JobRunner against a real Store (SQLite in a temp dir) and a fake peer: the DeliveryHost is
 * the far side, an in-memory object the test drives; the store is never faked.
 */
import { createHook } from 'node:async_hooks';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ERROR_CODES, PeerDisconnectedError, PipeFailError, TooManyInFlightError } from '@restpipe/wire';
import { Store, type JobInfo } from '@restpipe/store';
import { tempDir } from '../../../store/src/test-support/helpers.js';
import { waitFor } from '../../../../test/helpers/wait.js';
import type { PipeRequest, PipeResponse } from '../api-types.js';
import { silentLogger } from '../logger.js';
import { newJobOf, type EnqueueRequest } from './job-request.js';
import { JobRunner, type DeliveryHost, type JobChange } from './job-runner.js';

interface Sent {
  readonly target: string;
  readonly request: PipeRequest;
}

/** The far side: which targets are connected, what was sent, and how each send is answered. */
class FakePeer implements DeliveryHost {
  readonly connected = new Set<string>();
  readonly sent: Sent[] = [];
  readonly inFlight = new Map<string, number>();
  readonly maxInFlight = new Map<string, number>();
  answer: (sent: Sent) => Promise<PipeResponse> = () => Promise.resolve(ok('done'));

  connectedTargets(): Iterable<string> {
    return [...this.connected];
  }
  isConnected(target: string): boolean {
    return this.connected.has(target);
  }
  async send(target: string, request: PipeRequest): Promise<PipeResponse> {
    const sent = { target, request };
    this.sent.push(sent);
    const now = (this.inFlight.get(target) ?? 0) + 1;
    this.inFlight.set(target, now);
    this.maxInFlight.set(target, Math.max(now, this.maxInFlight.get(target) ?? 0));
    try {
      return await this.answer(sent);
    } finally {
      this.inFlight.set(target, (this.inFlight.get(target) ?? 1) - 1);
    }
  }
  sentTo(target: string): Sent[] {
    return this.sent.filter((s) => s.target === target);
  }
}

function ok(text: string, returnCode = 0): PipeResponse {
  const raw = Buffer.from(text);
  return { returnCode, mimeType: 'text/plain', raw, data: text };
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The timers job-runner.ts armed that are alive now (not yet fired, nor cleared). Counting
 * every 'Timeout' in process.getActiveResourcesInfo() is not exact here: the test worker
 * itself arms and clears timers of its own meanwhile.
 */
const runnerTimers = new Set<number>();
const timerHook = createHook({
  init(asyncId, type) {
    if (type !== 'Timeout') return;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 30;
    const stack = new Error().stack ?? '';
    Error.stackTraceLimit = limit;
    if (stack.includes('job-runner.ts')) runnerTimers.add(asyncId);
  },
  destroy(asyncId) {
    runnerTimers.delete(asyncId);
  },
});
timerHook.enable();
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
/** Node runs destroy hooks a turn after a timer is cleared: count after two turns. */
async function timeouts(): Promise<number> {
  await turn();
  await turn();
  return runnerTimers.size;
}

const ALICE = 'client/alice';
const BOB = 'client/bob';
const DEFAULTS = { timeoutMs: 5000, jobTtlMs: 60_000 };

let tmp: ReturnType<typeof tempDir>;
let dir: string;
let store: Store;
let peer: FakePeer;
let runner: JobRunner | undefined;
const changes: [JobChange, string][] = [];
const settled: string[] = [];

beforeEach(() => {
  tmp = tempDir('rp-job-runner-');
  dir = join(tmp.dir, 'data');
  store = Store.open(dir);
  peer = new FakePeer();
  changes.length = 0;
  settled.length = 0;
});

afterEach(() => {
  runner?.stop();
  runner = undefined;
  vi.restoreAllMocks();
  store.close();
  tmp.remove();
});

function makeRunner(perTarget = 4, maxBytes?: number): JobRunner {
  runner = new JobRunner(store.jobs, peer, {
    changed: (change, job) => changes.push([change, job.id]),
    settled: (id) => settled.push(id),
  }, silentLogger, { perTarget, clock: Date.now, ...(maxBytes === undefined ? {} : { maxBytes }) });
  return runner;
}

async function enqueue(target: string, extra: Partial<EnqueueRequest> = {}): Promise<string> {
  const outcome = await store.jobs.insert(newJobOf(target, { verb: 'post', noun: 'orders/create', body: { n: 1 }, ...extra }, DEFAULTS));
  if (outcome.status !== 'inserted') throw new Error(`expected inserted, got ${outcome.status}`);
  return outcome.job.id;
}

function info(id: string): JobInfo {
  const job = store.jobs.info(id);
  if (!job) throw new Error(`no job ${id}`);
  return job;
}

const statusOf = (id: string): string => info(id).status;

describe('JobRunner', () => {
  it('delivers nothing while the target is away, arms one timer (its expiry) and does not poll; then all, in due order, once it connects', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await enqueue(ALICE, { body: { n: i } }));
    const bobs = await enqueue(BOB);
    peer.connected.add(BOB);
    await makeRunner(1).start();
    await waitFor(() => statusOf(bobs) === 'succeeded', "bob's job");
    await sleep(300);
    expect(peer.sentTo(ALICE)).toEqual([]);
    expect(ids.map(statusOf)).toEqual(['queued', 'queued', 'queued', 'queued']);
    // Nothing written, and one timer (alice's jobs' expiry), while alice stays away.
    const commits = store.stats.commits;
    expect(await timeouts()).toBe(1);
    await sleep(300);
    expect(store.stats.commits).toBe(commits);
    expect(await timeouts()).toBe(1);
    expect(peer.sentTo(ALICE)).toEqual([]);

    peer.connected.add(ALICE);
    runner!.wake(ALICE);
    await waitFor(() => ids.every((id) => statusOf(id) === 'succeeded'), "alice's jobs");
    const sent = peer.sentTo(ALICE);
    expect(sent.map((s) => s.request.idempotencyKey)).toEqual(ids);
    expect(sent.map((s) => JSON.parse(Buffer.from(s.request.body as Uint8Array).toString()).n)).toEqual([0, 1, 2, 3]);
    for (const s of sent) {
      expect(s.request.attempt).toBe(1);
      expect(s.request.timeoutMs).toBeLessThanOrEqual(5000);
    }
    expect(peer.maxInFlight.get(ALICE)).toBe(1);
    expect(new Set(settled)).toEqual(new Set([...ids, bobs]));
  });

  it('ends a job succeeded on a 2xx reply, keeping it as the result', async () => {
    peer.connected.add(ALICE);
    peer.answer = () => Promise.resolve(ok('all done', 7));
    await makeRunner().start();
    const id = await enqueue(ALICE);
    runner!.wake(ALICE);
    await waitFor(() => settled.includes(id), 'settled');
    const job = store.jobs.get(id)!;
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1, result: { kind: 0, status: 200, returnCode: 7, mimeType: 'text/plain', bytes: 8 } });
    expect(job.resultBody?.toString()).toBe('all done');
    expect(changes).toEqual([['succeeded', id]]);
  });

  it.each([
    ['a handler failure', ERROR_CODES.HANDLER, 500, 'ValueError'],
    ['IndeterminateError', ERROR_CODES.INDETERMINATE, 500, 'IndeterminateError'],
    ['a 4xx', ERROR_CODES.HTTP, 422, 'HttpError'],
  ])('ends a job failed on %s from the far side, with its envelope as the result', async (_what, code, status, className) => {
    peer.connected.add(ALICE);
    peer.answer = () => Promise.reject(new PipeFailError({ className, message: 'nope', code, returnCode: 251, status, traceback: '' }));
    const id = await enqueue(ALICE);
    await makeRunner().start();
    await waitFor(() => settled.includes(id), 'settled');
    const job = store.jobs.get(id)!;
    expect(job).toMatchObject({ status: 'failed', attempts: 1, result: { kind: 1, status, returnCode: 251, mimeType: 'application/json' } });
    expect(JSON.parse(job.resultBody!.toString())).toEqual({ exception: { class: className, message: 'nope', code, traceback: '' } });
    expect(peer.sent).toHaveLength(1);
    expect(changes).toEqual([['failed', id]]);
  });

  it.each([
    ['a disconnect', () => new PeerDisconnectedError('gone')],
    ['a busy far side (503 TooManyInFlight)', () => new PipeFailError({ className: 'TooManyInFlightError', message: 'busy', code: ERROR_CODES.TOO_MANY_IN_FLIGHT, returnCode: undefined, status: 503, traceback: '' })],
  ])('queues a job again after %s, due later, attempts counted; the timer delivers it again, same key', async (_what, failure) => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999); // the top of the jitter: ~500 ms for the first retry
    peer.connected.add(ALICE);
    const second = deferred<PipeResponse>();
    let failedAt = 0;
    let atSecond: { now: number; job: JobInfo } | undefined;
    peer.answer = (s) => {
      if (s.request.attempt === 1) {
        failedAt = Date.now();
        return Promise.reject(failure());
      }
      atSecond = { now: Date.now(), job: info(id) };
      return second.promise;
    };
    const id = await enqueue(ALICE, { idempotencyKey: 'order-42' });
    await makeRunner().start();
    await waitFor(() => changes.length === 1, 'the retry');
    expect(changes).toEqual([['retry', id]]);

    // No wake, no connect: only the runner's timer can deliver it again.
    await waitFor(() => peer.sent.length === 2, 'second delivery');
    expect(peer.sent[1]!.request).toMatchObject({ idempotencyKey: 'order-42', attempt: 2 });
    // As the second delivery went out: started again (attempts 2), from the retry's next_attempt_at, which was in the future.
    expect(atSecond!.job).toMatchObject({ status: 'running', attempts: 2, result: null });
    expect(atSecond!.job.nextAttemptAt).toBeGreaterThanOrEqual(failedAt + 499);
    expect(atSecond!.now).toBeGreaterThanOrEqual(atSecond!.job.nextAttemptAt);
    expect(settled).toEqual([]);
    second.resolve(ok('second time'));
    await waitFor(() => statusOf(id) === 'succeeded', 'succeeded');
    expect(changes).toEqual([['retry', id], ['succeeded', id]]);
    expect(settled).toEqual([id]);
  });

  it('does not count a delivery that never left this node (a local full queue): the next goes out as attempt 1 again', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0);
    peer.connected.add(ALICE);
    let calls = 0;
    peer.answer = () => (++calls === 1 ? Promise.reject(new TooManyInFlightError('full')) : Promise.resolve(ok('later')));
    const id = await enqueue(ALICE, { idempotencyKey: 'order-43' });
    await makeRunner().start();
    await waitFor(() => statusOf(id) === 'succeeded', 'succeeded after the retry');
    expect(peer.sent.map((s) => s.request.attempt)).toEqual([1, 1]);
    expect(info(id).attempts).toBe(1);
    expect(changes).toEqual([['retry', id], ['succeeded', id]]);
  });

  it('keeps a job queued, due later, after its peer disconnects mid-delivery; due, it waits for the connect', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0); // the bottom of the jitter: 250 ms for the first retry
    peer.connected.add(ALICE);
    let failedAt = 0;
    peer.answer = (s) => {
      if (s.request.attempt !== 1) return Promise.resolve(ok('second time'));
      failedAt = Date.now();
      peer.connected.delete(ALICE);
      return Promise.reject(new PeerDisconnectedError('gone'));
    };
    const id = await enqueue(ALICE, { idempotencyKey: 'order-43' });
    await makeRunner().start();
    await waitFor(() => statusOf(id) === 'queued' && info(id).attempts === 1, 're-queued');
    const requeued = info(id);
    expect(requeued.nextAttemptAt).toBeGreaterThanOrEqual(failedAt + 249);
    expect(requeued.result).toBeNull();
    expect(changes).toEqual([['retry', id]]);
    expect(settled).toEqual([]);

    // Past its next attempt, with alice away: nothing sent, only the expiry timer left.
    await waitFor(() => Date.now() > requeued.nextAttemptAt + 100, 'the retry time to pass');
    await sleep(50);
    expect(peer.sent).toHaveLength(1);
    expect(info(id)).toMatchObject({ status: 'queued', attempts: 1 });
    expect(await timeouts()).toBe(1);

    peer.connected.add(ALICE);
    runner!.wake(ALICE);
    await waitFor(() => statusOf(id) === 'succeeded', 'succeeded');
    expect(peer.sent[1]!.request).toMatchObject({ idempotencyKey: 'order-43', attempt: 2 });
    expect(info(id).attempts).toBe(2);
  });

  it('expires a queued job through the timer when its TTL runs out undelivered', async () => {
    const id = await enqueue(ALICE, { ttlMs: 300 });
    const other = await enqueue(ALICE); // 60 s TTL: stays queued
    await makeRunner().start();
    expect(statusOf(id)).toBe('queued');
    expect(await timeouts()).toBe(1);
    await waitFor(() => statusOf(id) === 'expired', 'expired');
    expect(info(id).result).toBeNull();
    expect(peer.sent).toEqual([]);
    expect(changes).toEqual([['expired', id]]);
    expect(settled).toEqual([id]);
    expect(statusOf(other)).toBe('queued');
    await sleep(50);
    expect(await timeouts()).toBe(1); // re-armed, for the other job's expiry
  });

  it('expires at start what ran out while the node was down, without delivering it', async () => {
    const id = await enqueue(ALICE, { ttlMs: 50 });
    store.close();
    await sleep(100);
    store = Store.open(dir);
    peer.connected.add(ALICE);
    await makeRunner().start();
    expect(statusOf(id)).toBe('expired');
    await sleep(50);
    expect(peer.sent).toEqual([]);
    expect(changes).toEqual([['expired', id]]);
  });

  it('delivers again, same key and attempt 2, a job left running in the file by the last run', async () => {
    const running = await enqueue(ALICE, { idempotencyKey: 'order-7' });
    const queued = await enqueue(ALICE);
    expect(await store.jobs.start(running)).toMatchObject({ status: 'running', attempts: 1 });
    store.close(); // the node stops with that delivery under way
    store = Store.open(dir);
    expect(statusOf(running)).toBe('running');
    peer.connected.add(ALICE);
    await makeRunner().start();
    await waitFor(() => statusOf(running) === 'succeeded' && statusOf(queued) === 'succeeded', 'both delivered');
    const byKey = new Map(peer.sent.map((s) => [s.request.idempotencyKey, s.request]));
    expect(byKey.get('order-7')).toMatchObject({ attempt: 2, noun: ['orders', 'create'] });
    expect(byKey.get(queued)).toMatchObject({ attempt: 1 });
    expect(peer.sent).toHaveLength(2);
    expect(info(running).attempts).toBe(2);
  });

  it('keeps the bodies its deliveries hold within maxBytes, all peers together, and goes on as they end', async () => {
    const held: Array<ReturnType<typeof deferred<PipeResponse>>> = [];
    peer.answer = () => {
      const d = deferred<PipeResponse>();
      held.push(d);
      return d.promise;
    };
    const body = Buffer.alloc(600, 1);
    const ids = [await enqueue(ALICE, { body }), await enqueue(BOB, { body }), await enqueue(ALICE, { body })];
    peer.connected.add(ALICE).add(BOB);
    await makeRunner(4, 1000).start(); // room for one 600-byte body at a time
    await waitFor(() => held.length === 1, 'the first delivery');
    await sleep(150);
    expect(held).toHaveLength(1);
    expect(runner!.delivering).toBe(1);
    held[0]!.resolve(ok('1'));
    // The end of one delivery wakes the peers that waited for room: bob's goes out too.
    await waitFor(() => held.length === 2, 'the second delivery');
    held[1]!.resolve(ok('2'));
    await waitFor(() => held.length === 3, 'the third delivery');
    held[2]!.resolve(ok('3'));
    await waitFor(() => ids.every((id) => statusOf(id) === 'succeeded'), 'all succeeded');
    expect(peer.sent.map((s) => s.target).sort()).toEqual([ALICE, ALICE, BOB].sort());
  });

  it('delivers at most perTarget jobs at once to each peer, each peer on its own', async () => {
    const held: { target: string; d: ReturnType<typeof deferred<PipeResponse>> }[] = [];
    peer.answer = (s) => {
      const d = deferred<PipeResponse>();
      held.push({ target: s.target, d });
      return d.promise;
    };
    const alice: string[] = [];
    for (let i = 0; i < 5; i++) alice.push(await enqueue(ALICE));
    const bob: string[] = [];
    for (let i = 0; i < 3; i++) bob.push(await enqueue(BOB));
    peer.connected.add(ALICE).add(BOB);
    await makeRunner(2).start();
    await waitFor(() => held.length === 4, 'two deliveries to each peer');
    await sleep(200);
    expect(held.length).toBe(4);
    expect(runner!.delivering).toBe(4);
    expect(peer.sentTo(ALICE).map((s) => s.request.idempotencyKey)).toEqual(alice.slice(0, 2));
    expect(peer.sentTo(BOB).map((s) => s.request.idempotencyKey)).toEqual(bob.slice(0, 2));
    expect(alice.map(statusOf)).toEqual(['running', 'running', 'queued', 'queued', 'queued']);

    // One of alice's ends: the next of hers goes out; bob's stay as they are.
    held.find((h) => h.target === ALICE)!.d.resolve(ok('1'));
    await waitFor(() => peer.sentTo(ALICE).length === 3, "alice's third");
    await sleep(100);
    expect(peer.sentTo(ALICE)).toHaveLength(3);
    expect(peer.sentTo(BOB)).toHaveLength(2);

    // From now on every send is answered at once; release what is held.
    peer.answer = () => Promise.resolve(ok('x'));
    for (const h of held) h.d.resolve(ok('x'));
    await waitFor(() => [...alice, ...bob].every((id) => statusOf(id) === 'succeeded'), 'all succeeded');
    expect(peer.maxInFlight.get(ALICE)).toBe(2);
    expect(peer.maxInFlight.get(BOB)).toBe(2);
    expect(peer.sentTo(ALICE).map((s) => s.request.idempotencyKey)).toEqual(alice);
    expect(peer.sent).toHaveLength(8);
  });

  it.each([
    ['a reply', (d: ReturnType<typeof deferred<PipeResponse>>) => d.resolve(ok('late'))],
    ['a retryable failure', (d: ReturnType<typeof deferred<PipeResponse>>) => d.reject(new PeerDisconnectedError('gone'))],
    ['a final failure', (d: ReturnType<typeof deferred<PipeResponse>>) => d.reject(new PipeFailError({ className: 'E', message: 'no', code: ERROR_CODES.HANDLER, returnCode: 251, status: 500, traceback: '' }))],
  ])('writes nothing after stop(), when a delivery under way then ends with %s; the next start delivers it again', async (_what, end) => {
    const d = deferred<PipeResponse>();
    peer.answer = () => d.promise;
    peer.connected.add(ALICE);
    const id = await enqueue(ALICE, { idempotencyKey: 'order-9' });
    const queued = await enqueue(BOB);
    await makeRunner().start();
    await waitFor(() => peer.sent.length === 1, 'delivery under way');
    await waitFor(() => statusOf(id) === 'running', 'running');
    const before = info(id);
    const commits = store.stats.commits;

    runner!.stop();
    end(d);
    peer.connected.add(BOB);
    runner!.wake(BOB);
    runner!.pumpAll();
    await sleep(200);
    expect(info(id)).toEqual(before);
    expect(store.stats.commits).toBe(commits);
    expect(changes).toEqual([]);
    expect(settled).toEqual([]);
    expect(peer.sent).toHaveLength(1);
    expect(statusOf(queued)).toBe('queued');
    expect(await timeouts()).toBe(0);

    // The file still says running: the next start queues it again, same key.
    store.close();
    store = Store.open(dir);
    peer.answer = () => Promise.resolve(ok('again'));
    await makeRunner().start();
    await waitFor(() => statusOf(id) === 'succeeded', 'delivered again');
    expect(peer.sent[1]!.request).toMatchObject({ idempotencyKey: 'order-9', attempt: 2 });
  });

  it('arms no timer once everything has settled and nothing is due later: no polling', async () => {
    peer.connected.add(ALICE);
    let calls = 0;
    peer.answer = () => (++calls === 1 ? Promise.reject(new PeerDisconnectedError('gone')) : Promise.resolve(ok('ok')));
    const ids = [await enqueue(ALICE), await enqueue(ALICE)];
    await makeRunner().start();
    await waitFor(() => ids.every((id) => statusOf(id) === 'succeeded'), 'all succeeded', 10_000);
    expect(changes.filter(([c]) => c === 'retry')).toHaveLength(1);
    await sleep(50);
    expect(await timeouts()).toBe(0);
    const commits = store.stats.commits;
    const sent = peer.sent.length;
    for (let i = 0; i < 5; i++) {
      await sleep(60);
      expect(await timeouts()).toBe(0);
    }
    expect(store.stats.commits).toBe(commits);
    expect(peer.sent.length).toBe(sent);
    expect(runner!.delivering).toBe(0);

    // And a job queued now is still delivered: woken, not polled.
    const late = await enqueue(ALICE);
    runner!.wake(ALICE);
    await waitFor(() => statusOf(late) === 'succeeded', 'late job');
    await sleep(50);
    expect(await timeouts()).toBe(0);
  });
});
