import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BodyTooLargeError, InvalidRequestError } from '@restpipe/core';

/**
 * The one body parser of a gateway, for every media type (SPEC §12): a body with a
 * Content-Length up to `maxEventBytes` is read whole into a Buffer; a larger one, or
 * one of unknown length (chunked), is handed on unread, as the request's own
 * Readable, to go to the far side as a stream. Only an event route (under `eventPrefix`)
 * streams, and only an unsigned request: `/_rp/*` and a body whose Content-Digest must be
 * checked are read whole, and are 413 past `maxEventBytes`. `limitMs`: a whole body not in
 * within this long fails with 400, so a slow sender cannot hold a request (a stream has its
 * deadline's idle rule instead).
 */
export function registerBodyParser(app: FastifyInstance, maxEventBytes: number, limitMs: number, eventPrefix: string): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request: FastifyRequest, payload: IncomingMessage, done: (error: Error | null, body?: unknown) => void) => {
    const declared = declaredLength(request);
    if (declared !== undefined && declared <= maxEventBytes) return readWhole(payload, declared, maxEventBytes, limitMs, done);
    if (mayStream(request, eventPrefix)) return done(null, payload);
    if (declared !== undefined) return done(tooLarge(maxEventBytes));
    readWhole(payload, undefined, maxEventBytes, limitMs, done);
  });
}

function mayStream(request: FastifyRequest, eventPrefix: string): boolean {
  const { headers } = request;
  return (request.raw.url ?? '').startsWith(eventPrefix) && headers['signature'] === undefined && headers['content-digest'] === undefined;
}

function tooLarge(maxEventBytes: number): BodyTooLargeError {
  return new BodyTooLargeError(`this body must come whole, and it is over --max-event-bytes (${maxEventBytes})`);
}

/** Content-Length as a number; undefined when absent (chunked). Node has already refused a malformed one. */
function declaredLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  return header === undefined || request.headers['transfer-encoding'] !== undefined ? undefined : Number(header);
}

/** The body whole; `declared` its Content-Length, undefined for chunked (then at most `maxBytes`). */
function readWhole(payload: IncomingMessage, declared: number | undefined, maxBytes: number, limitMs: number, done: (error: Error | null, body?: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let received = 0;
  let settled = false;
  const finish = (error: Error | null, body?: Buffer): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    payload.off('data', onData);
    done(error, body);
  };
  const onData = (chunk: Buffer): void => {
    received += chunk.length;
    if (declared !== undefined && received > declared) return finish(new BodyTooLargeError(`request body is longer than its Content-Length of ${declared}`));
    if (received > maxBytes) return finish(tooLarge(maxBytes));
    chunks.push(chunk);
  };
  const timer = setTimeout(() => {
    finish(new InvalidRequestError(`the request body did not arrive within ${limitMs} ms`));
    payload.destroy();
  }, limitMs);
  timer.unref();
  payload.on('data', onData);
  payload.once('end', () => {
    if (declared !== undefined && received !== declared) return finish(new InvalidRequestError(`request body of ${received} bytes, but Content-Length said ${declared}`));
    finish(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
  });
  payload.once('error', (error) => finish(new InvalidRequestError(`the request body could not be read: ${error.message}`, { cause: error })));
}
