/**
 * Issue 11, item 5: every value bound for the wire is checked where it enters
 * (`reply()`, a handler's returned reply, `request()`). A bad one fails that one
 * request with 500 RP_ERR_INVALID_ARGUMENT; requests in flight beside it on the
 * same connection still succeed, and the connection stays up (no reconnect).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EventHandler,
  HandlerReply,
  InvalidArgumentError,
  PipeFailError,
  reply,
  type EventContext,
  type PipeClient,
  type PipeRequest,
  type PipeServer,
} from '@restpipe/core';
import { TestPki } from './helpers/pki.js';
import { PipeFixture } from './helpers/pipes.js';
import { settle } from './helpers/wait.js';

/** Reply options by name: the handler looks them up, since a NaN cannot travel as an arg. */
const options = new Map<string, unknown>();
let nextKey = 0;
function optionsKey(value: unknown): string {
  const key = `k${nextKey++}`;
  options.set(key, value);
  return key;
}

class Answers extends EventHandler {
  /** Goes through `reply()`, which checks its options. */
  get_reply(_ctx: EventContext, _body: unknown, key: string) {
    return reply('answer', options.get(key) as never);
  }
  /** A reply made without `reply()` (as another copy of restpipe, or by hand): checked when it is sent. */
  get_forged(_ctx: EventContext, _body: unknown, key: string) {
    return new HandlerReply('answer', options.get(key) as never);
  }
  async get_slow() {
    await new Promise((resolve) => setTimeout(resolve, 80));
    return { slow: true };
  }
  get_fast() {
    return { fast: true };
  }
}

const pki = new TestPki();
const pipes = new PipeFixture(pki);
let server: PipeServer & { port: number };
let client: PipeClient;
const disconnects: string[] = [];

beforeAll(async () => {
  server = await pipes.server({ handler: new Answers() });
  client = await pipes.connectedClient(server.port, 'checker', { handler: new Answers() });
  client.on('disconnect', () => disconnects.push('client'));
  server.on('disconnect', () => disconnects.push('server'));
});

afterAll(async () => {
  await pipes.closeAll();
});

const directions = [
  { label: 'client to server', send: (request: PipeRequest) => client.request(request) },
  { label: 'server to client', send: (request: PipeRequest) => server.request('checker', request) },
] as const;

/** Runs `bad` with slow requests in flight beside it on the same connection; they must all succeed. */
async function besideSlowOnes<T>(send: (request: PipeRequest) => Promise<unknown>, bad: () => Promise<T>): Promise<Awaited<ReturnType<typeof settle<T>>>> {
  const connection = client.connection;
  const slow = Array.from({ length: 5 }, () => send({ noun: 'slow' }));
  const outcome = await settle(bad());
  const answers = (await Promise.all(slow)) as Array<{ data: unknown }>;
  expect(answers.map((a) => a.data)).toEqual(Array(5).fill({ slow: true }));
  expect((await send({ noun: 'fast' }) as { data: unknown }).data).toEqual({ fast: true });
  expect(client.connection).toBe(connection);
  expect(disconnects).toEqual([]);
  return outcome;
}

function expectRemoteInvalidArgument(error: unknown): void {
  expect(error).toBeInstanceOf(PipeFailError);
  const fail = error as PipeFailError;
  expect({ status: fail.status, code: fail.code, className: fail.className, returnCode: fail.returnCode }).toEqual({
    status: 500, code: 'RP_ERR_INVALID_ARGUMENT', className: 'InvalidArgumentError', returnCode: 251,
  });
}

function expectLocalInvalidArgument(error: unknown): void {
  expect(error).toBeInstanceOf(InvalidArgumentError);
  expect((error as InvalidArgumentError).status).toBe(500);
  expect((error as InvalidArgumentError).code).toBe('RP_ERR_INVALID_ARGUMENT');
}

const badReplyOptions: Array<[string, unknown]> = [
  ['code -1', { code: -1 }],
  ['code NaN', { code: NaN }],
  ['code 2**32', { code: 2 ** 32 }],
  ["code 'abc'", { code: 'abc' }],
  ['code 1.5', { code: 1.5 }],
  ['code Infinity', { code: Infinity }],
  ['mimeType 5', { mimeType: 5 }],
  ['a mimeType with CR LF', { mimeType: 'text/plain\r\nx-evil: 1' }],
  ['a mimeType of 2000 characters', { mimeType: `text/${'x'.repeat(2000)}` }],
  ['options that are not an object', 7],
];

describe.each(directions)('a handler reply the wire cannot carry, $label', ({ send }) => {
  it.each(badReplyOptions)('reply() with %s fails that request with 500 InvalidArgumentError, return code 251', async (_what, bad) => {
    const outcome = await besideSlowOnes(send, () => send({ noun: 'reply', args: [optionsKey(bad)] }));
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expectRemoteInvalidArgument(outcome.error);
  });

  it.each(badReplyOptions)('a hand-made reply with %s is checked too', async (_what, bad) => {
    const outcome = await besideSlowOnes(send, () => send({ noun: 'forged', args: [optionsKey(bad)] }));
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expectRemoteInvalidArgument(outcome.error);
  });

  it('the largest return code, 2**32-1, goes through', async () => {
    const answer = await send({ noun: 'reply', args: [optionsKey({ code: 2 ** 32 - 1, mimeType: 'text/plain' })] });
    expect(answer.returnCode).toBe(2 ** 32 - 1);
    expect(answer.data).toBe('answer');
  });
});

const badRequests: Array<[string, Partial<PipeRequest>]> = [
  ['timeoutMs NaN', { timeoutMs: NaN }],
  ['timeoutMs -1', { timeoutMs: -1 }],
  ['timeoutMs 0', { timeoutMs: 0 }],
  ['timeoutMs 2**31', { timeoutMs: 2 ** 31 }],
  ["timeoutMs 'x'", { timeoutMs: 'x' as never }],
  ['timeoutMs 1.5', { timeoutMs: 1.5 }],
  ['mimeType 5', { mimeType: 5 as never, body: 'x' }],
  ['a mimeType with a newline', { mimeType: 'text/plain\n', body: 'x' }],
  ['requestId 5', { requestId: 5 as never }],
  ['a requestId of 200 characters', { requestId: 'r'.repeat(200) }],
  ['a requestId with a newline', { requestId: 'a\nb' }],
  ["args 'abc'", { args: 'abc' as never }],
  ['args [1]', { args: [1] as never }],
  ['query {a: 5}', { query: { a: 5 } as never }],
  ['query {a: [1]}', { query: { a: [1] } as never }],
  ["query 'a=1'", { query: 'a=1' as never }],
  ['args of 40 KiB', { args: ['x'.repeat(40 * 1024)] }],
  ['a query of 20 K three-byte characters', { query: { q: '€'.repeat(20_000) } }],
  ['a signal that is no AbortSignal', { signal: {} as never }],
  ['an onCancellable that is no function', { onCancellable: 5 as never }],
];

describe.each(directions)('a request() the wire cannot carry, $label', ({ send }) => {
  it.each(badRequests)('%s fails that request with 500 InvalidArgumentError, before anything is sent', async (_what, bad) => {
    const outcome = await besideSlowOnes(send, () => send({ noun: 'fast', ...bad }));
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expectLocalInvalidArgument(outcome.error);
  });

  it('a noun segment that is not a string is 400 InvalidPathError', async () => {
    const outcome = await besideSlowOnes(send, () => send({ noun: [['fast']] as never }));
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(outcome.error).toMatchObject({ status: 400, code: 'RP_ERR_INVALID_PATH' });
  });

  it('the longest deadline, 2**31-1 ms, and 1 ms are accepted', async () => {
    expect((await send({ noun: 'fast', timeoutMs: 2 ** 31 - 1 })).data).toEqual({ fast: true });
    const quick = await settle(send({ noun: 'slow', timeoutMs: 1 }));
    expect(quick.ok ? undefined : quick.error.code).toBe('RP_ERR_EVENT_TIMEOUT');
  });
});

/** Anything a caller might pass as a number. */
const anyCode = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  fc.double(),
  fc.constantFrom(NaN, Infinity, -Infinity, -0, 2 ** 32, 2 ** 53, Number.MAX_VALUE),
  fc.string({ maxLength: 5 }),
  fc.constantFrom(null, true, {}, [], 10n),
);

const validCode = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 2 ** 32 - 1;
const validTimeout = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 2 ** 31 - 1;

describe('any value (property)', () => {
  it('a reply code is the X-Event-Return-Code when it is a uint32, else that one request fails with InvalidArgumentError', async () => {
    await fc.assert(
      fc.asyncProperty(anyCode, async (code) => {
        const outcome = await settle(client.request({ noun: 'forged', args: [optionsKey({ code })] }));
        if (validCode(code)) {
          expect(outcome.ok && outcome.value.returnCode).toBe(code === 0 ? 0 : code);
        } else {
          expect(outcome.ok).toBe(false);
          if (!outcome.ok) expectRemoteInvalidArgument(outcome.error);
        }
      }),
      { numRuns: 150 },
    );
    expect((await client.request({ noun: 'fast' })).data).toEqual({ fast: true });
    expect(disconnects).toEqual([]);
  });

  it('a timeoutMs is the deadline when it is 1 to 2**31-1 whole ms, else that one request fails with InvalidArgumentError', async () => {
    const connection = client.connection;
    await fc.assert(
      fc.asyncProperty(anyCode, async (timeoutMs) => {
        const outcome = await settle(client.request({ noun: 'fast', timeoutMs: timeoutMs as number }));
        // null, like undefined, means the connection's default deadline.
        if (timeoutMs === null || (validTimeout(timeoutMs) && timeoutMs >= 1000)) expect(outcome.ok).toBe(true);
        else if (!validTimeout(timeoutMs)) {
          expect(outcome.ok).toBe(false);
          if (!outcome.ok) expectLocalInvalidArgument(outcome.error);
        }
      }),
      { numRuns: 150 },
    );
    expect(client.connection).toBe(connection);
    expect(disconnects).toEqual([]);
  });
});
