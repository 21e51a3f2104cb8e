/**
 * A handler may throw anything: a value whose toString throws, a Proxy whose
 * every trap throws, an Error whose `message` getter throws, a Symbol, null,
 * undefined, a BigInt. Each is answered 500 with an exception envelope (never
 * left unanswered until the caller's 504), and the connection that ran the
 * handler holds nothing afterwards.
 */
import { describe, expect, it } from 'vitest';
import { EventHandler, PipeFailError, type EventBody, type EventContext, type PipeClient, type PipeServer } from '@restpipe/core';
import { usePipeFixture } from './helpers/pipes.js';
import { settle } from './helpers/wait.js';

const boom = (): never => {
  throw new Error('x');
};

const HOSTILE: Record<string, () => unknown> = {
  'to-string-throws': () => ({ toString: boom }),
  'proxy': () => new Proxy({}, { get: boom, has: boom, getPrototypeOf: boom, ownKeys: boom, getOwnPropertyDescriptor: boom }),
  'proxy-of-error': () => new Proxy(new Error('inner'), { get: boom }),
  'message-getter-throws': () => Object.defineProperty(new Error('m'), 'message', { get: boom }),
  'symbol': () => Symbol('thrown'),
  'null': () => null,
  'undefined': () => undefined,
  'bigint': () => 10n,
};

class Thrower extends EventHandler {
  get_sync(_ctx: EventContext, _body: EventBody, kind: string): never {
    throw HOSTILE[kind]!();
  }

  async get_async(_ctx: EventContext, _body: EventBody, kind: string): Promise<never> {
    await new Promise((r) => setImmediate(r));
    throw HOSTILE[kind]!();
  }

  get_ok(): string {
    return 'ok';
  }
}

const suite = usePipeFixture();

async function expectEnvelope(request: Promise<unknown>): Promise<void> {
  const outcome = await settle(request);
  expect(outcome.ok).toBe(false);
  if (outcome.ok) return;
  expect(outcome.error).toBeInstanceOf(PipeFailError);
  const failure = outcome.error as PipeFailError;
  expect({ status: failure.status, returnCode: failure.returnCode, code: failure.code }).toEqual({ status: 500, returnCode: 251, code: 'RP_ERR_HANDLER' });
  expect(typeof failure.message).toBe('string');
}

describe('a handler that throws a value that cannot be printed', () => {
  const kinds = Object.keys(HOSTILE);
  let server: PipeServer & { port: number };
  let client: PipeClient;

  async function start(): Promise<void> {
    const pipes = suite.fixture();
    server = await pipes.server({ handler: new Thrower(), timeoutMs: 3_000 });
    client = await pipes.connectedClient(server.port, 'node-a', { handler: new Thrower(), timeoutMs: 3_000 });
  }

  it.each(kinds.flatMap((kind) => [['sync', kind], ['async', kind]]))('%s %s: the client handler answers 500, its connection holds nothing', async (how, kind) => {
    await start();
    await expectEnvelope(server.request('node-a', { noun: how, args: [kind] }));
    expect(client.connection?.handling).toBe(0);
    expect((await server.request('node-a', { noun: 'ok' })).data).toBe('ok');
    expect(client.connection?.handling).toBe(0);
  });

  it.each(kinds.flatMap((kind) => [['sync', kind], ['async', kind]]))('%s %s: the server handler answers 500', async (how, kind) => {
    await start();
    await expectEnvelope(client.request({ noun: how, args: [kind] }));
    expect((await client.request({ noun: 'ok' })).data).toBe('ok');
    expect(server.clients()[0]?.inFlight).toBe(0);
  });
});
