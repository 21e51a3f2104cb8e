import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { EventTimeoutError, PeerDisconnectedError, PipeFailError, ReplyKind, responseFromReply, GatewayError, type PipeResponse } from '@restpipe/core';
import { decodeForwarded, decodeReply, decodeRequest, encodeRequest, errorOf, outcomeOf } from './codec.js';
import { clientSubject } from './subjects.js';

describe('what a forwarded request carries', () => {
  it('keeps every field of a request through the cluster', () => {
    const request = decodeRequest(encodeRequest({
      verb: 'post', noun: 'a/b', args: ['x', ''], query: { q: ['1', '2'], r: 's' }, body: Buffer.from([0, 1, 2]),
      mimeType: 'application/octet-stream', idempotencyKey: 'k1', attempt: 3, hold: 'h_1',
    }, 1500, 'req-1'));
    expect(request).toMatchObject({ verb: 'post', noun: ['a', 'b'], args: ['x', ''], query: { q: ['1', '2'], r: 's' }, mimeType: 'application/octet-stream', timeoutMs: 1500, requestId: 'req-1', idempotencyKey: 'k1', attempt: 3, hold: 'h_1' });
    expect(Buffer.from(request.body as Buffer)).toEqual(Buffer.from([0, 1, 2]));
  });

  it('marks a streamed body and a streamed reply, with their sizes, for their streams to follow', () => {
    const body = Readable.from([Buffer.from('abc')]);
    const forwarded = decodeForwarded(encodeRequest({ verb: 'post', noun: 'sink', body, size: 3 }, 1000, 'req-2'));
    expect(forwarded).toMatchObject({ streamed: true, size: 3, request: { verb: 'post', noun: ['sink'] } });
    expect(() => decodeRequest(encodeRequest({ verb: 'post', noun: 'sink', body }, 1000, 'req-3'))).toThrow(expect.objectContaining({ code: 'RP_ERR_PROTOCOL' }));
    const streamed = outcomeOf({ response: { returnCode: 0, mimeType: 'application/x-pattern', streamed: true, size: 9, stream: body } as unknown as PipeResponse });
    if (!('reply' in streamed)) throw new Error('a streamed response is a reply');
    expect(decodeReply(streamed.reply)).toMatchObject({ kind: ReplyKind.VALUE, status: 200, streamed: true, size: 9, mimeType: 'application/x-pattern' });
    body.destroy();
  });

  it('refuses what is no event', () => {
    expect(() => decodeRequest(Buffer.from('garbage'))).toThrow();
  });

  it('keeps a reply and a far-side failure as the Reply frame they came in', () => {
    const value = outcomeOf({ response: { returnCode: 7, mimeType: 'text/plain', raw: Buffer.from('hi'), data: 'hi' } });
    if (!('reply' in value)) throw new Error('a value is a reply');
    expect(responseFromReply(decodeReply(value.reply))).toMatchObject({ returnCode: 7, mimeType: 'text/plain', raw: Buffer.from('hi') });
    const failure = new PipeFailError({ className: 'TypeError', message: 'boom', code: 'RP_ERR_HANDLER', returnCode: 251, status: 500, traceback: '' });
    const failed = outcomeOf({ error: failure });
    if (!('reply' in failed)) throw new Error('a far-side failure is a reply');
    expect(decodeReply(failed.reply).kind).toBe(ReplyKind.EXCEPTION);
    expect(() => responseFromReply(decodeReply(failed.reply))).toThrow(expect.objectContaining({ status: 500, returnCode: 251, className: 'TypeError', code: 'RP_ERR_HANDLER' }));
  });

  it('rebuilds the holder\'s own failures as the same classes, and anything else as a gateway error', () => {
    const timeout = outcomeOf({ error: new EventTimeoutError('late') });
    if (!('error' in timeout)) throw new Error('a local failure is an error');
    expect(errorOf(timeout.error.className, timeout.error.message)).toBeInstanceOf(EventTimeoutError);
    expect(errorOf('PeerDisconnectedError', 'gone')).toBeInstanceOf(PeerDisconnectedError);
    expect(errorOf('NoSuchClass', 'x')).toBeInstanceOf(GatewayError);
    expect(errorOf('PipeFailError', 'x')).toBeInstanceOf(GatewayError);
  });

  it('writes a dotted name as a single subject token', () => {
    expect(clientSubject('node.a.b', 'host.1-1234')).toBe('rp.v1.to.node~a~b.host~1-1234');
  });
});
