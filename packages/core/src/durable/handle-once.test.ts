/**
 * handleOnce, the receiver's exactly-once record (SPEC §8), through the real gate of a
 * Durable over a real Store in a temp dir; "an earlier boot" is the store closed with a
 * handler still running and a new Durable opened on the same directory.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpError, type EventFrame } from '@restpipe/wire';
import { requestFingerprint } from '@restpipe/store';
import { tempDir } from '../../../store/src/test-support/helpers.js';
import type { EventBody, EventContext } from '../api-types.js';
import { EventHandler } from '../event-handler.js';
import type { HandlerEnv, ReplyFields } from '../handle-event.js';
import { LazyAbort } from '../lazy-abort.js';
import type { Logger } from '../logger.js';
import { Durable } from './durable.js';
import { handleOnce } from './handle-once.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Counts every run of its methods; `hold` keeps post_orders_create running until released. */
class Ledger extends EventHandler {
  runs = 0;
  hold: Promise<void> | undefined;
  onRun: ((ctx: EventContext) => void) | undefined;

  async post_orders_create(ctx: EventContext, body: EventBody): Promise<unknown> {
    this.runs += 1;
    this.onRun?.(ctx);
    if (this.hold) await this.hold;
    return { order: body.data, run: this.runs, key: ctx.idempotencyKey };
  }

  post_orders_refuse(): never {
    this.runs += 1;
    throw new HttpError(418, 'no coffee here');
  }
}

const errors: string[] = [];
const logger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: (_obj, msg) => void errors.push(msg ?? '') };

let tmp: ReturnType<typeof tempDir>;
let dir: string;
let durable: Durable;
let ledger: Ledger;

function openDurable(): Durable {
  return new Durable({
    options: { dataDir: dir, jobTtlMs: 60_000, maxJobs: 100, idempotencyTtlMs: 60_000 },
    defaults: { timeoutMs: 5000, jobTtlMs: 60_000 },
    perTarget: 1,
    host: { connectedTargets: () => [], isConnected: () => false, send: () => Promise.reject(new Error('no peers here')) },
    logger,
    owner: {},
  });
}

beforeEach(() => {
  tmp = tempDir('rp-handle-once-');
  dir = join(tmp.dir, 'data');
  durable = openDurable();
  ledger = new Ledger();
  errors.length = 0;
});

afterEach(() => {
  durable.close();
  tmp.remove();
});

function env(over: Partial<HandlerEnv> = {}): HandlerEnv {
  return {
    handler: ledger,
    exposeTracebacks: false,
    peer: { name: 'alice', address: '127.0.0.1' },
    pipe: { request: () => Promise.reject(new Error('unused')) },
    idempotency: durable.gate,
    ...over,
  };
}

function event(over: Partial<EventFrame> = {}): EventFrame {
  return {
    id: 1,
    verb: 'post',
    noun: ['orders', 'create'],
    args: [],
    query: [{ key: 'q', values: ['1'] }],
    mimeType: 'application/json',
    data: Buffer.from('{"n":1}'),
    timeoutMs: 5000,
    requestId: 'req-1',
    idempotencyKey: 'order-1',
    ...over,
  };
}

const run = (e: EventFrame = event(), en: HandlerEnv = env()): Promise<ReplyFields> => handleOnce(e, en, new LazyAbort());
const json = (fields: ReplyFields): unknown => JSON.parse(Buffer.from(fields.data).toString());

/** An exception reply; by default one that handleOnce made itself, reaching no method (handlerName ''). */
function expectEnvelope(fields: ReplyFields, status: number, code: string, className: string, handlerName = ''): void {
  expect(fields).toMatchObject({ kind: 1, status, mimeType: 'application/json', handlerName });
  expect(fields.replayed).toBeFalsy();
  expect(json(fields)).toMatchObject({ exception: { class: className, code } });
}

describe('handleOnce', () => {
  it('runs the handler once for a new key, recorded as started before it runs, its reply kept after', async () => {
    const e = event();
    const fingerprint = requestFingerprint({ verb: e.verb, noun: e.noun, args: e.args, query: e.query, body: e.data });
    let seenAtRun: unknown;
    ledger.onRun = () => (seenAtRun = durable.store.idempotency.peek('alice', 'order-1', fingerprint));
    const fields = await run(e);
    expect(seenAtRun).toEqual({ state: 'started' }); // committed: reads see committed records only
    expect(ledger.runs).toBe(1);
    expect(fields).toMatchObject({ kind: 0, status: 200, returnCode: 0, mimeType: 'application/json', handlerName: 'post_orders_create' });
    expect(fields.replayed).toBeFalsy();
    expect(json(fields)).toEqual({ order: { n: 1 }, run: 1, key: 'order-1' });
    const record = durable.store.idempotency.peek('alice', 'order-1', fingerprint);
    expect(record).toMatchObject({ state: 'done', reply: { kind: 0, status: 200, returnCode: 0, mimeType: 'application/json' } });
    expect(Buffer.from((record as { reply: { body: Uint8Array } }).reply.body)).toEqual(fields.data);
  });

  it('answers a repeat with the stored reply, replayed, without running the handler', async () => {
    const first = await run();
    // Another delivery of the same request: its request id, frame id and attempt are not the request.
    const again = await run(event({ id: 9, requestId: 'req-2', attempt: 2, timeoutMs: 100 }));
    expect(ledger.runs).toBe(1);
    expect(again.replayed).toBe(true);
    expect(again).toMatchObject({ kind: first.kind, status: first.status, returnCode: first.returnCode, mimeType: first.mimeType });
    expect(Buffer.from(again.data)).toEqual(Buffer.from(first.data));
    expect(json(again)).toEqual({ order: { n: 1 }, run: 1, key: 'order-1' });
  });

  it('keeps and replays a failure too: the handler ran, and does not run again', async () => {
    const refuse = event({ noun: ['orders', 'refuse'], idempotencyKey: 'refuse-1' });
    const first = await run(refuse);
    expectEnvelope(first, 418, 'RP_ERR_HTTP', 'HttpError', 'post_orders_refuse');
    const again = await run(refuse);
    expect(ledger.runs).toBe(1);
    expect(again).toMatchObject({ kind: 1, status: 418, returnCode: 251, replayed: true });
    expect(json(again)).toEqual(json(first));
  });

  it.each([
    ['body', { data: Buffer.from('{"n":2}') }],
    ['args', { args: ['x'] }],
    ['query', { query: [{ key: 'q', values: ['2'] }] }],
    ['noun', { noun: ['orders', 'refuse'] }],
    ['verb', { verb: 'put' }],
  ])('refuses the key used for another request (other %s): 422, handler not run', async (_what, other) => {
    await run();
    const fields = await run(event(other));
    expectEnvelope(fields, 422, 'RP_ERR_IDEMPOTENCY_KEY_MISMATCH', 'IdempotencyKeyMismatchError');
    expect(ledger.runs).toBe(1);
  });

  it('answers 409 to a second request while the first with its key still runs, then replays the first', async () => {
    const hold = deferred();
    ledger.hold = hold.promise;
    const first = run();
    await waitForRuns(1);
    const second = await run();
    expectEnvelope(second, 409, 'RP_ERR_IDEMPOTENCY_KEY_IN_USE', 'IdempotencyKeyInUseError');
    hold.resolve();
    expect((await first).status).toBe(200);
    const third = await run();
    expect(third.replayed).toBe(true);
    expect(ledger.runs).toBe(1);
  });

  it('lets only one of two requests with one key, begun in the same turn, run', async () => {
    const [a, b] = await Promise.all([run(), run()]);
    expect(ledger.runs).toBe(1);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
  });

  it('scopes keys per sending peer', async () => {
    const a = await run();
    const b = await run(event(), env({ peer: { name: 'bob', address: '127.0.0.1' } }));
    expect(ledger.runs).toBe(2);
    expect(a.replayed).toBeFalsy();
    expect(b.replayed).toBeFalsy();
    expect(json(b)).toMatchObject({ run: 2 });
  });

  it('never runs again a key whose handler was running when an earlier boot stopped: 500 IndeterminateError', async () => {
    const hold = deferred();
    ledger.hold = hold.promise;
    const first = run();
    await waitForRuns(1);
    durable.close(); // the node stops while the handler runs: the key stays `started` in the file
    hold.resolve();
    // The reply could not be kept: logged, and handleOnce still answers (it never rejects).
    expect((await first).status).toBe(200);
    expect(errors.some((m) => /could not keep the reply/.test(m))).toBe(true);

    durable = openDurable(); // the next boot
    ledger.hold = undefined;
    const fields = await run(event({ attempt: 2 }));
    expectEnvelope(fields, 500, 'RP_ERR_INDETERMINATE', 'IndeterminateError');
    expect(fields.returnCode).toBe(251);
    expect(ledger.runs).toBe(1);
    // Asked again, the same answer: it is never run.
    expectEnvelope(await run(event({ attempt: 3 })), 500, 'RP_ERR_INDETERMINATE', 'IndeterminateError');
    // Another request under that key is still a mismatch, and a new key runs.
    expectEnvelope(await run(event({ data: Buffer.from('{"n":2}') })), 422, 'RP_ERR_IDEMPOTENCY_KEY_MISMATCH', 'IdempotencyKeyMismatchError');
    expect((await run(event({ idempotencyKey: 'order-2' }))).status).toBe(200);
    expect(ledger.runs).toBe(2);
  });

  it('keeps a finished key across a restart: the next boot replays it', async () => {
    const first = await run();
    durable.close();
    durable = openDurable();
    const again = await run();
    expect(again.replayed).toBe(true);
    expect(Buffer.from(again.data)).toEqual(Buffer.from(first.data));
    expect(ledger.runs).toBe(1);
  });

  it('answers 501 NotEnabledError when the node keeps no idempotency records, handler not run', async () => {
    const fields = await run(event(), env({ idempotency: undefined }));
    expectEnvelope(fields, 501, 'RP_ERR_NOT_ENABLED', 'NotEnabledError');
    expect(ledger.runs).toBe(0);
  });

  it('answers 503 StoreError when the key cannot be recorded (the store is closed), handler not run', async () => {
    durable.close();
    const fields = await run();
    expectEnvelope(fields, 503, 'RP_ERR_STORE', 'StoreError');
    expect((json(fields) as { exception: { message: string } }).exception.message).toMatch(/could not record the idempotency key/);
    expect(ledger.runs).toBe(0);
  });
});

async function waitForRuns(n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (ledger.runs < n) {
    if (Date.now() > deadline) throw new Error(`the handler ran ${ledger.runs} of ${n} times`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
