import { describe, expect, it } from 'vitest';
import type { EventFrame } from '@restpipe/wire';
import { EventHandler, type EventContext } from './event-handler.js';
import { handleEvent, type HandlerEnv } from './handle-event.js';
import { LazyAbort } from './lazy-abort.js';

class Handler extends EventHandler {
  get_now(ctx: EventContext) {
    return { args: ctx.args, query: ctx.query };
  }
  async get_later() {
    return 'later';
  }
  get_boom(): never {
    throw new RangeError('boom');
  }
  get_unprintable(): never {
    throw { toString: () => { throw new Error('printing failed'); } };
  }
  async get_unprintable_later(): Promise<never> {
    throw new Proxy({}, { get: () => { throw new Error('trap'); }, getPrototypeOf: () => { throw new Error('trap'); } });
  }
}

const env: HandlerEnv = {
  handler: new Handler(),
  exposeTracebacks: false,
  peer: { name: 'node-a', address: '127.0.0.1' },
  pipe: { request: () => Promise.reject(new Error('unused')) },
};

const event = (noun: string[], extra: Partial<EventFrame> = {}): EventFrame => ({
  id: 1, verb: 'get', noun, args: [], query: [], mimeType: '', data: Buffer.alloc(0), timeoutMs: 1000, requestId: 'r', ...extra,
});

describe('handleEvent', () => {
  it('answers a synchronous method synchronously, with no promise', () => {
    const fields = handleEvent(event(['now'], { args: ['a'], query: [{ key: 'q', values: ['1'] }] }), env, new LazyAbort());
    expect(fields).not.toBeInstanceOf(Promise);
    expect(JSON.parse(Buffer.from((fields as { data: Buffer }).data).toString())).toEqual({ args: ['a'], query: { q: '1' } });
  });

  it('answers an async method through its promise', async () => {
    const fields = handleEvent(event(['later']), env, new LazyAbort());
    expect(fields).toBeInstanceOf(Promise);
    expect(Buffer.from((await fields).data).toString()).toBe('"later"');
  });

  it('reports no handler name for a method that does not exist, so metrics stay bounded', async () => {
    const fields = await handleEvent(event(['made', 'up', 'name']), env, new LazyAbort());
    expect(fields).toMatchObject({ handlerName: '', status: 404, kind: 1 });
  });

  it('turns a throw into a 500 envelope under the method name', async () => {
    const fields = await handleEvent(event(['boom']), env, new LazyAbort());
    expect(fields).toMatchObject({ handlerName: 'get_boom', status: 500, returnCode: 251, kind: 1 });
  });

  it.each([['synchronous', ['unprintable']], ['asynchronous', ['unprintable', 'later']]])(
    'answers a %s throw it cannot print with a 500 envelope under the method name', async (_how, noun) => {
      const fields = await handleEvent(event(noun), env, new LazyAbort());
      expect(fields).toMatchObject({ handlerName: `get_${noun.join('_')}`, status: 500, returnCode: 251, kind: 1 });
      const { exception } = JSON.parse(Buffer.from(fields.data).toString()) as { exception: Record<string, string> };
      expect(exception).toEqual({ class: 'Error', message: '[unprintable]', code: 'RP_ERR_HANDLER', traceback: '' });
    });
});
