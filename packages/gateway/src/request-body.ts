import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { StreamAbortedError } from '@restpipe/core';

/**
 * A request body to stream (SPEC §12), as a Readable of its own: the pipe may
 * destroy it (the far side stopped reading, or the request failed) without
 * destroying the HTTP request, whose socket still has a response to carry; the
 * rest of the body is then read and dropped. A caller that goes away before the
 * end of its body fails it, so the far side never takes a cut body for a whole one.
 * The chunks pass on as they came: no copy.
 */
export function requestBody(raw: IncomingMessage): Readable {
  const body = new PassThrough({ highWaterMark: 64 * 1024 });
  // Failed before the pipe reads it (a request still queued): no listener must not mean a crash.
  body.on('error', () => {});
  raw.pipe(body);
  raw.once('close', () => {
    if (!raw.complete && !body.destroyed) body.destroy(new StreamAbortedError('the caller went away before the end of its request body'));
  });
  body.once('close', () => {
    if (raw.complete) return;
    raw.unpipe(body);
    raw.resume();
  });
  return body;
}
