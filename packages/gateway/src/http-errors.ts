import type { FastifyReply } from 'fastify';
import {
  BodyTooLargeError,
  envelopeBytes,
  envelopeOf,
  ERROR_CODES,
  InvalidBodyError,
  InvalidRequestError,
  PipeFailError,
  relayedEnvelope,
  RpError,
  TooManyInFlightError,
  type ExceptionEnvelope,
} from '@restpipe/core';

export const RETURN_CODE_HEADER = 'x-event-return-code';

/** Errors Fastify itself raises before our handler runs, as our own. */
function fromFastify(error: Error & { code?: string; statusCode?: number }): unknown {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new BodyTooLargeError(error.message, { cause: error });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new InvalidBodyError(error.message, { cause: error });
    default:
      return error;
  }
}

export interface FailureView {
  status: number;
  returnCode: number | undefined;
  envelope: ExceptionEnvelope;
}

/**
 * How any failure looks over HTTP. Far-side failures keep the far side's class,
 * code and traceback; local ones get ours, with a traceback only when exposed.
 */
export function viewOf(thrown: unknown, exposeTracebacks: boolean): FailureView {
  const error = thrown instanceof Error ? fromFastify(thrown as Error & { code?: string }) : thrown;
  if (error instanceof PipeFailError) {
    return { status: error.status, returnCode: error.returnCode || undefined, envelope: relayedEnvelope(error) };
  }
  if (error instanceof RpError) {
    return { status: error.status, returnCode: error.returnCode, envelope: envelopeOf(error, exposeTracebacks) };
  }
  const status = (error as { statusCode?: number })?.statusCode;
  if (status && status >= 400 && status < 500) {
    return { status, returnCode: undefined, envelope: envelopeOf(error, exposeTracebacks, ERROR_CODES.INVALID_REQUEST) };
  }
  return { status: 500, returnCode: undefined, envelope: envelopeOf(error, exposeTracebacks, ERROR_CODES.GATEWAY) };
}

export function sendFailure(reply: FastifyReply, thrown: unknown, exposeTracebacks: boolean): FastifyReply {
  const view = viewOf(thrown, exposeTracebacks);
  if (view.returnCode !== undefined) reply.header(RETURN_CODE_HEADER, String(view.returnCode));
  const error = thrown instanceof Error ? thrown : undefined;
  if (error instanceof TooManyInFlightError || (error instanceof PipeFailError && error.code === ERROR_CODES.TOO_MANY_IN_FLIGHT)) {
    reply.header('retry-after', '1');
  }
  return reply.code(view.status).type('application/json').send(JSON.stringify(view.envelope));
}

/** HTTP status for a request Node's parser refused before any route saw it. */
function clientErrorStatus(code: string | undefined): [number, string] {
  if (code === 'HPE_HEADER_OVERFLOW') return [431, 'Request Header Fields Too Large'];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'Request Timeout'];
  return [400, 'Bad Request'];
}

/**
 * A whole raw HTTP response, envelope included, for requests the HTTP parser
 * refused (malformed framing, oversized headers, too slow): those never reach
 * Fastify's error handler, but their callers still deserve an envelope.
 */
export function clientErrorResponse(error: Error & { code?: string }): string {
  const [status, text] = clientErrorStatus(error.code);
  const body = envelopeBytes(new InvalidRequestError(`malformed HTTP request (${error.code ?? 'unknown'})`), false);
  return `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.toString('utf8')}`;
}
