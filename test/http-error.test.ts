/**
 * Issue 11, item 6: a handler chooses a client-error status with
 * `throw new HttpError(status, message)`, and restpipe's errors are recognised by
 * brand, so those thrown from a second copy of the errors module (a distinct
 * module instance, as tsx makes for a handler file) map as the node's own do.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHandler, ForbiddenError, HttpError, PipeFailError, RpError, UnknownHandlerError, type EventContext, type PipeClient } from 'restpipe';
import { createGateway } from '@restpipe/gateway';
import { TestPki } from './helpers/pki.js';
import { PipeFixture } from './helpers/pipes.js';

type ErrorsModule = typeof import('../packages/errors/src/errors.js');
/** The same source, loaded again under another URL: every class in it is a different one. */
const copy = (await import('../packages/errors/src/errors.ts?second-copy')) as ErrorsModule;

class Thrower extends EventHandler {
  get_local(_ctx: EventContext, _body: unknown, status: string) {
    throw new HttpError(status === 'NaN' ? NaN : Number(status), `status ${status}, this copy`);
  }
  get_copy(_ctx: EventContext, _body: unknown, status: string) {
    throw new copy.HttpError(Number(status), `status ${status}, the other copy`);
  }
  get_copyforbidden() {
    throw new copy.ForbiddenError('no, from the other copy');
  }
  get_copyunknown() {
    throw new copy.UnknownHandlerError('none, from the other copy');
  }
  get_copyinvalid() {
    throw new copy.InvalidArgumentError('bad, from the other copy');
  }
  get_plain() {
    throw new RangeError('a plain failure');
  }
}

const pki = new TestPki();
const pipes = new PipeFixture(pki);
let client: PipeClient;
let gateway: FastifyInstance;
let base: string;

beforeAll(async () => {
  const server = await pipes.server({ handler: new Thrower() });
  client = await pipes.connectedClient(server.port, 'asker');
  gateway = createGateway({
    status: { role: 'client', name: 'asker', connected: () => client.isConnected, peers: () => 1, ready: () => client.isConnected },
    send: (_target, request) => client.request(request),
    maxEventBytes: 1 << 20,
    timeoutMs: 5_000,
    exposeTracebacks: false,
  });
  await gateway.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(gateway.server.address() as { port: number }).port}/server`;
});

afterAll(async () => {
  await gateway?.close();
  await pipes.closeAll();
});

async function get(path: string): Promise<{ status: number; returnCode: string | null; exception: { class: string; code: string; message: string } }> {
  const response = await fetch(`${base}/${path}`);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const { exception } = (await response.json()) as { exception: { class: string; code: string; message: string } };
  return { status: response.status, returnCode: response.headers.get('x-event-return-code'), exception };
}

describe('HttpError', () => {
  it.each([400, 404, 409, 418, 429, 499, 503])('HttpError(%i) answers that status, class HttpError, return code 251', async (status) => {
    const answer = await get(`local//${status}`);
    expect(answer).toEqual({ status, returnCode: '251', exception: { class: 'HttpError', code: 'RP_ERR_HTTP', message: `status ${status}, this copy`, traceback: '' } });
  });

  it.each(['200', '204', '302', '500', '502', '504', '600', '99', '404.5', 'NaN'])('HttpError(%s) is a plain 500 with return code 251', async (status) => {
    const answer = await get(`local//${status}`);
    expect(answer.status).toBe(500);
    expect(answer.returnCode).toBe('251');
    expect(answer.exception.class).toBe('HttpError');
  });

  it('keeps status and return code on the error object, and is an RpError', () => {
    const error = new HttpError(404, 'gone');
    expect(error).toBeInstanceOf(RpError);
    expect({ status: error.status, returnCode: error.returnCode, code: error.code, name: error.name }).toEqual({
      status: 404, returnCode: 251, code: 'RP_ERR_HTTP', name: 'HttpError',
    });
    expect(new HttpError(301, 'moved').status).toBe(500);
  });

  it('reaches a library caller as a PipeFailError with that status', async () => {
    const failure = await client.request({ noun: 'local', args: ['404'] }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(PipeFailError);
    expect(failure).toMatchObject({ status: 404, returnCode: 251, className: 'HttpError', code: 'RP_ERR_HTTP' });
  });

  it('a plain Error is still 500 with return code 251', async () => {
    expect(await get('plain')).toMatchObject({ status: 500, returnCode: '251', exception: { class: 'RangeError', code: 'RP_ERR_HANDLER' } });
  });
});

describe('errors from a second copy of restpipe are recognised by brand', () => {
  it('the copy really is a second module instance', () => {
    expect(copy.HttpError).not.toBe(HttpError);
    expect(copy.RpError).not.toBe(RpError);
    expect(Object.getPrototypeOf(copy.HttpError.prototype)).not.toBe(RpError.prototype);
  });

  it('instanceof works across copies, both ways, and tells classes apart', () => {
    expect(new copy.HttpError(404, 'x')).toBeInstanceOf(HttpError);
    expect(new copy.HttpError(404, 'x')).toBeInstanceOf(RpError);
    expect(new HttpError(404, 'x')).toBeInstanceOf(copy.RpError);
    expect(new copy.ForbiddenError('x')).toBeInstanceOf(ForbiddenError);
    expect(new copy.ForbiddenError('x') instanceof HttpError).toBe(false);
    expect(new copy.PipeFailError({ className: 'X', message: 'm', code: 'RP_ERR_X', returnCode: undefined, status: 500, traceback: '' })).toBeInstanceOf(PipeFailError);
    expect(new Error('x') instanceof RpError).toBe(false);
    expect({ name: 'HttpError', status: 404 } instanceof HttpError).toBe(false);
    expect(RpError.prototype instanceof RpError).toBe(false);
    expect(HttpError.prototype instanceof RpError).toBe(true);
  });

  it("a user's own subclass keeps ordinary instanceof", () => {
    class TeapotError extends HttpError {
      constructor() {
        super(418, 'short and stout');
      }
    }
    class OtherError extends RpError {
      readonly code = 'RP_ERR_OTHER';
    }
    expect(new TeapotError()).toBeInstanceOf(TeapotError);
    expect(new TeapotError()).toBeInstanceOf(HttpError);
    expect(new copy.HttpError(418, 'x') instanceof TeapotError).toBe(false);
    expect(new OtherError('x')).toBeInstanceOf(RpError);
    expect(new OtherError('x') instanceof TeapotError).toBe(false);
  });

  it.each([404, 410, 503])("the other copy's HttpError(%i) answers that status with return code 251", async (status) => {
    const answer = await get(`copy//${status}`);
    expect(answer).toEqual({ status, returnCode: '251', exception: { class: 'HttpError', code: 'RP_ERR_HTTP', message: `status ${status}, the other copy`, traceback: '' } });
  });

  it("the other copy's ForbiddenError is 403 with return code 252, not 500/251", async () => {
    expect(await get('copyforbidden')).toEqual({
      status: 403, returnCode: '252', exception: { class: 'ForbiddenError', code: 'RP_ERR_FORBIDDEN', message: 'no, from the other copy', traceback: '' },
    });
  });

  it("the other copy's UnknownHandlerError is 404 with return code 255", async () => {
    expect(await get('copyunknown')).toMatchObject({ status: 404, returnCode: '255', exception: { class: 'UnknownHandlerError' } });
  });

  it("the other copy's InvalidArgumentError is 500 with return code 251", async () => {
    expect(await get('copyinvalid')).toMatchObject({ status: 500, returnCode: '251', exception: { class: 'InvalidArgumentError', code: 'RP_ERR_INVALID_ARGUMENT' } });
  });

  it('UnknownHandlerError of this copy is unchanged', () => {
    expect(new UnknownHandlerError('x').returnCode).toBe(255);
  });
});
