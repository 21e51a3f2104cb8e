import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { BodyTooLargeError, InvalidRequestError } from '@restpipe/core';

/**
 * The one body parser of a gateway, for every media type (SPEC §12): a body with a
 * Content-Length up to `maxEventBytes` is read whole into a Buffer; a larger one, or
 * one of unknown length (chunked), is handed on unread, as the request's own
 * Readable, to go to the far side as a stream. `limitMs`: a whole body not in within
 * this long fails with 400, so a slow sender cannot hold a request (a stream has its deadline's idle rule instead).
 */
export function registerBodyParser(app: FastifyInstance, maxEventBytes: number, limitMs: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request: FastifyRequest, payload: IncomingMessage, done: (error: Error | null, body?: unknown) => void) => {
    const declared = declaredLength(request);
    if (declared === undefined || declared > maxEventBytes) return done(null, payload);
    readWhole(payload, declared, limitMs, done);
  });
}

/** Content-Length as a number; undefined when absent (chunked). Node has already refused a malformed one. */
function declaredLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  return header === undefined || request.headers['transfer-encoding'] !== undefined ? undefined : Number(header);
}

function readWhole(payload: IncomingMessage, declared: number, limitMs: number, done: (error: Error | null, body?: Buffer) => void): void {
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
    if (received > declared) return finish(new BodyTooLargeError(`request body is longer than its Content-Length of ${declared}`));
    chunks.push(chunk);
  };
  const timer = setTimeout(() => {
    finish(new InvalidRequestError(`the request body of ${declared} bytes did not arrive within ${limitMs} ms`));
    payload.destroy();
  }, limitMs);
  timer.unref();
  payload.on('data', onData);
  payload.once('end', () => {
    if (received !== declared) return finish(new InvalidRequestError(`request body of ${received} bytes, but Content-Length said ${declared}`));
    finish(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
  });
  payload.once('error', (error) => finish(new InvalidRequestError(`the request body could not be read: ${error.message}`, { cause: error })));
}
