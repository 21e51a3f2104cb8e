import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BodyTooLargeError,
  CancelledError,
  ClosedError,
  ERROR_CODES,
  EventTimeoutError,
  FrameTooLargeError,
  HttpError,
  InvalidArgumentError,
  InvalidBodyError,
  InvalidPathError,
  PeerDisconnectedError,
  PeerUnavailableError,
  PipeFailError,
  TooManyInFlightError,
  UnknownClientError,
} from '@restpipe/wire';
import { Store, type Job, type NewJob } from '@restpipe/store';
import { tempDir } from '../../../store/src/test-support/helpers.js';
import { MAX_MS } from '../limits.js';
import { toEventFrame } from '../request.js';
import { deliveryRequest, isRetryable, newJobOf, resultOfFailure, resultOfResponse, retryDelayMs, type EnqueueRequest } from './job-request.js';

const DEFAULTS = { timeoutMs: 30_000, jobTtlMs: 86_400_000 };

function farSide(code: string, status: number): PipeFailError {
  return new PipeFailError({ className: 'X', message: `far side said ${code}`, code, returnCode: 251, status, traceback: '' });
}

describe('isRetryable', () => {
  it.each([
    ['PeerDisconnectedError', new PeerDisconnectedError('gone')],
    ['EventTimeoutError', new EventTimeoutError('slow')],
    ['PeerUnavailableError', new PeerUnavailableError('away')],
    ['UnknownClientError', new UnknownClientError('never seen')],
    ['TooManyInFlightError', new TooManyInFlightError('busy')],
    ['CancelledError', new CancelledError('cancelled')],
    ['ClosedError', new ClosedError('closing')],
  ])('retries a local %s: it says nothing about the event', (_name, error) => {
    expect(isRetryable(error)).toBe(true);
  });

  it.each([
    ['InvalidArgumentError', new InvalidArgumentError('bad')],
    ['InvalidPathError', new InvalidPathError('bad path')],
    ['InvalidBodyError', new InvalidBodyError('bad body')],
    ['BodyTooLargeError', new BodyTooLargeError('big')],
    ['FrameTooLargeError', new FrameTooLargeError(10_000_000, 1_000_000)],
  ])('ends the job on a local %s: the request can never be sent', (_name, error) => {
    expect(isRetryable(error)).toBe(false);
  });

  it.each([
    ['IDEMPOTENCY_KEY_IN_USE', 409],
    ['TOO_MANY_IN_FLIGHT', 503],
    ['STORE', 503],
    ['STORE_FULL', 507],
  ] as const)('retries the far side answering %s: "not now", not an outcome', (code, status) => {
    expect(isRetryable(farSide(ERROR_CODES[code], status))).toBe(true);
  });

  it.each([
    ['HANDLER', 500],
    ['INDETERMINATE', 500],
    ['HTTP', 418],
    ['FORBIDDEN', 403],
    ['UNKNOWN_HANDLER', 404],
    ['IDEMPOTENCY_KEY_MISMATCH', 422],
    ['NOT_ENABLED', 501],
    // The far side's own failures relayed by code are its answer, even those that are retried locally.
    ['PEER_DISCONNECTED', 502],
    ['EVENT_TIMEOUT', 504],
  ] as const)('ends the job when the far side answers %s', (code, status) => {
    expect(isRetryable(farSide(ERROR_CODES[code], status))).toBe(false);
  });

  it('ends the job on a far-side code restpipe does not know', () => {
    expect(isRetryable(farSide('RP_ERR_REMOTE', 500))).toBe(false);
  });

  it.each([
    ['an Error', new Error('boom')],
    ['a TypeError', new TypeError('boom')],
    ['a string', 'boom'],
    ['undefined', undefined],
    ['null', null],
    ['an object with an RP code', { code: ERROR_CODES.PEER_DISCONNECTED }],
  ])('does not retry %s, which is no RpError', (_what, error) => {
    expect(isRetryable(error)).toBe(false);
  });
});

describe('retryDelayMs', () => {
  const top = (): number => 1; // the top of the jitter: the whole step
  const bottom = (): number => 0; // its bottom: half the step

  it('waits 0.5 s before the first retry, then doubles', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => retryDelayMs(n, top))).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 32_000]);
  });

  it('is capped at 60 s, however many attempts', () => {
    for (const n of [8, 9, 20, 21, 100, 10_000, Number.MAX_SAFE_INTEGER]) expect(retryDelayMs(n, top)).toBe(60_000);
  });

  it('treats attempts below 1 as the first', () => {
    expect(retryDelayMs(0, top)).toBe(500);
    expect(retryDelayMs(-5, top)).toBe(500);
  });

  it('jitters 50 to 100% of the step, through the random it is given', () => {
    expect(retryDelayMs(1, bottom)).toBe(250);
    expect(retryDelayMs(1, () => 0.5)).toBe(375);
    expect(retryDelayMs(3, bottom)).toBe(1000);
    expect(retryDelayMs(3, () => 0.5)).toBe(1500);
    expect(retryDelayMs(50, bottom)).toBe(30_000);
    expect(retryDelayMs(50, () => 0.999_999)).toBe(60_000);
  });

  it('stays within [step/2, step] for any attempt and random in [0, 1) (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, r) => {
        const step = Math.min(60_000, 500 * 2 ** Math.min(n - 1, 20));
        const delay = retryDelayMs(n, () => r);
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(step / 2);
        expect(delay).toBeLessThanOrEqual(step);
      }),
    );
  });

  it('uses Math.random by default, within the same bounds', () => {
    for (let i = 0; i < 200; i++) {
      const d = retryDelayMs(2);
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });
});

describe('newJobOf', () => {
  const base: EnqueueRequest = { verb: 'post', noun: 'orders/create', body: { n: 1 } };

  it('makes the job to store, with the node defaults where the request says nothing', () => {
    const job = newJobOf('server', base, DEFAULTS);
    expect(job).toEqual({
      target: 'server',
      verb: 'post',
      noun: ['orders', 'create'],
      args: [],
      query: [],
      mimeType: 'application/json',
      body: Buffer.from('{"n":1}'),
      timeoutMs: 30_000,
      ttlMs: 86_400_000,
    });
    expect('requestId' in job).toBe(false);
    expect('idempotencyKey' in job).toBe(false);
  });

  it('keeps what the request gives: ttlMs, timeoutMs, requestId, idempotencyKey, args', () => {
    const job = newJobOf('client/alice', { ...base, args: ['a1'], ttlMs: 5000, timeoutMs: 700, requestId: 'req-9', idempotencyKey: 'key-9' }, DEFAULTS);
    expect(job).toMatchObject({ target: 'client/alice', args: ['a1'], ttlMs: 5000, timeoutMs: 700, requestId: 'req-9', idempotencyKey: 'key-9' });
  });

  it('takes ttlMs from 1 to MAX_MS', () => {
    expect(newJobOf('server', { ...base, ttlMs: 1 }, DEFAULTS).ttlMs).toBe(1);
    expect(newJobOf('server', { ...base, ttlMs: MAX_MS }, DEFAULTS).ttlMs).toBe(MAX_MS);
  });

  it.each([[0], [-1], [1.5], [Number.NaN], [Number.POSITIVE_INFINITY], [MAX_MS + 1], ['100']])('refuses ttlMs %j with InvalidArgumentError', (ttlMs) => {
    expect(() => newJobOf('server', { ...base, ttlMs: ttlMs as number }, DEFAULTS)).toThrow(InvalidArgumentError);
    expect(() => newJobOf('server', { ...base, ttlMs: ttlMs as number }, DEFAULTS)).toThrow(/ttlMs/);
  });

  it('refuses a bad ttlMs among the defaults too', () => {
    expect(() => newJobOf('server', base, { ...DEFAULTS, jobTtlMs: 0 })).toThrow(InvalidArgumentError);
  });

  it.each([[''], ['orders//create'], ['orders/bad-segment'], ['1st'], ['../etc'], [[]]])('refuses noun %j with InvalidPathError', (noun) => {
    expect(() => newJobOf('server', { ...base, noun: noun as string }, DEFAULTS)).toThrow(InvalidPathError);
  });

  it('refuses an unknown verb with InvalidPathError', () => {
    expect(() => newJobOf('server', { ...base, verb: 'fetch' as 'get' }, DEFAULTS)).toThrow(InvalidPathError);
  });

  it.each([
    ['256 characters', 'k'.repeat(256)],
    ['a control character', 'a\u0001b'],
    ['non-ASCII', 'clé'],
    ['a number', 42],
  ])('refuses an idempotencyKey of %s with InvalidArgumentError', (_what, key) => {
    expect(() => newJobOf('server', { ...base, idempotencyKey: key as string }, DEFAULTS)).toThrow(InvalidArgumentError);
  });

  it('refuses what a send would refuse: a bad timeoutMs, bad args, a bad query', () => {
    expect(() => newJobOf('server', { ...base, timeoutMs: 0 }, DEFAULTS)).toThrow(InvalidArgumentError);
    expect(() => newJobOf('server', { ...base, args: [1 as unknown as string] }, DEFAULTS)).toThrow(InvalidArgumentError);
    expect(() => newJobOf('server', { ...base, query: { q: 1 as unknown as string } }, DEFAULTS)).toThrow(InvalidArgumentError);
  });
});

describe('deliveryRequest', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: Store;
  beforeEach(() => {
    tmp = tempDir('rp-job-request-');
    store = Store.open(join(tmp.dir, 'data'));
  });
  afterEach(() => {
    store.close();
    tmp.remove();
  });

  /** Through the real store: queued, then started (as delivery does), so attempts is 1. */
  async function stored(job: NewJob): Promise<Job> {
    const outcome = await store.jobs.insert(job);
    if (outcome.status !== 'inserted') throw new Error(`expected inserted, got ${outcome.status}`);
    const started = await store.jobs.start(outcome.job.id);
    if (!started) throw new Error('job did not start');
    return started;
  }

  it('sends what was queued: query with several values, args, body and mime type, same key, the attempt', async () => {
    const request: EnqueueRequest = {
      verb: 'put',
      noun: ['orders', 'update'],
      args: ['a1', 'a2'],
      query: { q: ['1', '2', '3'], one: 'x', empty: '' },
      body: Buffer.from([0, 1, 2, 255]),
      mimeType: 'application/x-custom; v=2',
      requestId: 'req-7',
      idempotencyKey: 'order-7',
    };
    const job = await stored(newJobOf('client/alice', request, DEFAULTS));
    const sent = deliveryRequest(job, 1234);
    expect(sent).toMatchObject({
      verb: 'put',
      noun: ['orders', 'update'],
      args: ['a1', 'a2'],
      mimeType: 'application/x-custom; v=2',
      timeoutMs: 1234,
      requestId: 'req-7',
      idempotencyKey: 'order-7',
      attempt: 1,
    });
    expect({ ...sent.query }).toEqual({ q: ['1', '2', '3'], one: 'x', empty: '' });
    expect(Buffer.from(sent.body as Uint8Array)).toEqual(Buffer.from([0, 1, 2, 255]));
    // What goes on the wire is the frame the original request would have made.
    const again = toEventFrame(sent, 0, 1234, sent.requestId!);
    const first = toEventFrame(request, 0, 1234, 'req-7');
    expect({ ...again, attempt: undefined }).toEqual({ ...first, attempt: undefined });
    expect(again.attempt).toBe(1);
  });

  it('keeps an empty body empty and its mime type as given', async () => {
    const job = await stored(newJobOf('server', { verb: 'delete', noun: 'orders', mimeType: 'text/plain' }, DEFAULTS));
    const sent = deliveryRequest(job, 50);
    expect(Buffer.from(sent.body as Uint8Array).length).toBe(0);
    expect(sent.mimeType).toBe('text/plain');
    const frame = toEventFrame(sent, 0, 50, sent.requestId!);
    expect(frame.data.length).toBe(0);
    expect(frame.mimeType).toBe('text/plain');
  });

  it('keeps no body and no mime type as none', async () => {
    const job = await stored(newJobOf('server', { noun: 'time' }, DEFAULTS));
    const sent = deliveryRequest(job, 50);
    expect(sent.verb).toBe('get');
    expect(sent.mimeType).toBe('');
    expect(Buffer.from(sent.body as Uint8Array).length).toBe(0);
    expect({ ...sent.query }).toEqual({});
    expect(sent.args).toEqual([]);
  });

  it('names the job by its id when it has no request id, and its key defaults to the id', async () => {
    const job = await stored(newJobOf('server', { noun: 'time' }, DEFAULTS));
    const sent = deliveryRequest(job, 50);
    expect(sent.requestId).toBe(job.id);
    expect(sent.idempotencyKey).toBe(job.id);
  });

  it('counts the attempt of each delivery, the key unchanged', async () => {
    const first = await stored(newJobOf('server', { noun: 'time', idempotencyKey: 'k' }, DEFAULTS));
    await store.jobs.retry(first.id, Date.now());
    const second = await store.jobs.start(first.id);
    expect(deliveryRequest(second!, 50)).toMatchObject({ attempt: 2, idempotencyKey: 'k' });
  });
});

describe('results', () => {
  it('keeps a reply as a value result, status 200, raw body', () => {
    const raw = Buffer.from('{"ok":true}');
    expect(resultOfResponse({ returnCode: 7, mimeType: 'application/json', raw, data: { ok: true } })).toEqual({
      kind: 0, status: 200, returnCode: 7, mimeType: 'application/json', body: raw,
    });
  });

  it('keeps a far-side failure as its envelope, passed on as it came', () => {
    const error = new PipeFailError({ className: 'ValueError', message: 'no', code: 'RP_ERR_HANDLER', returnCode: 251, status: 500, traceback: 'tb' });
    const result = resultOfFailure(error);
    expect(result).toMatchObject({ kind: 1, status: 500, returnCode: 251, mimeType: 'application/json' });
    expect(JSON.parse(Buffer.from(result.body).toString())).toEqual({ exception: { class: 'ValueError', message: 'no', code: 'RP_ERR_HANDLER', traceback: 'tb' } });
  });

  it('keeps a local failure as the sync call would answer it', () => {
    const result = resultOfFailure(new HttpError(418, 'teapot'));
    expect(result).toMatchObject({ kind: 1, status: 418, returnCode: 251, mimeType: 'application/json' });
    expect(JSON.parse(Buffer.from(result.body).toString()).exception).toMatchObject({ code: 'RP_ERR_HTTP', message: 'teapot' });
  });
});
