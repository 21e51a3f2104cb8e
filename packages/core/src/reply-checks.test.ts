import { describe, expect, it } from 'vitest';
import { ConfigError, HttpError, RpError, type EventFrame } from '@restpipe/wire';
import { EventHandler, reply } from './event-handler.js';
import { exceptionReply, handleEvent, type HandlerEnv } from './handle-event.js';
import { LazyAbort } from './lazy-abort.js';

class Handler extends EventHandler {
  get_big() {
    return reply(Buffer.alloc(100));
  }
  get_bigjson() {
    return { text: 'x'.repeat(100) };
  }
  get_small() {
    return reply('ok', { code: 3 });
  }
}

const env = (maxReplyBytes?: number): HandlerEnv => ({
  handler: new Handler(),
  exposeTracebacks: false,
  peer: { name: 'node-a', address: '127.0.0.1' },
  pipe: { request: () => Promise.reject(new Error('unused')) },
  maxReplyBytes,
});

const event = (noun: string): EventFrame => ({
  id: 1, verb: 'get', noun: [noun], args: [], query: [], mimeType: '', data: Buffer.alloc(0), timeoutMs: 1000, requestId: 'r',
});

const envelope = (data: Buffer): { class: string; code: string } => (JSON.parse(data.toString()) as { exception: { class: string; code: string } }).exception;

describe('a reply the peer cannot take', () => {
  it.each(['big', 'bigjson'])('%s: a body over the peer\'s max-event-bytes fails that request with 500 InvalidArgumentError, 251', async (noun) => {
    const fields = await handleEvent(event(noun), env(64), new LazyAbort());
    expect(fields).toMatchObject({ status: 500, returnCode: 251, kind: 1, handlerName: `get_${noun}` });
    expect(envelope(fields.data)).toMatchObject({ class: 'InvalidArgumentError', code: 'RP_ERR_INVALID_ARGUMENT' });
  });

  it('goes out as it is within the limit, or with no limit known', async () => {
    expect(await handleEvent(event('big'), env(100), new LazyAbort())).toMatchObject({ status: 200, kind: 0 });
    expect(await handleEvent(event('big'), env(), new LazyAbort())).toMatchObject({ status: 200, kind: 0 });
    expect(await handleEvent(event('small'), env(2), new LazyAbort())).toMatchObject({ status: 200, returnCode: 3 });
  });
});

describe('exceptionReply', () => {
  class Redirect extends RpError {
    readonly code = 'RP_ERR_REDIRECT';
    override readonly status = 302;
  }
  class BadCode extends RpError {
    readonly code = 'RP_ERR_BAD_CODE';
    override readonly returnCode = -5;
  }

  it('an RpError with a status no failure may have is a 500 (return code 251)', () => {
    expect(exceptionReply(new Redirect('x'), false)).toMatchObject({ status: 500, returnCode: 251 });
  });

  it('an RpError with a return code that is no uint32 gets 251', () => {
    expect(exceptionReply(new BadCode('x'), false)).toMatchObject({ status: 500, returnCode: 251 });
  });

  it('every 500 carries 251 unless the error names its own code', () => {
    expect(exceptionReply(new ConfigError('x'), false)).toMatchObject({ status: 500, returnCode: 251 });
    expect(exceptionReply(new HttpError(404, 'x'), false)).toMatchObject({ status: 404, returnCode: 251 });
    expect(exceptionReply(new TypeError('x'), false)).toMatchObject({ status: 500, returnCode: 251 });
  });
});
