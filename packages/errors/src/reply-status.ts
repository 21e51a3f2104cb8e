/**
 * The HTTP statuses a Reply frame may carry: the reply table of SPEC §4, and the
 * client-error statuses a handler may choose with HttpError. A status a peer sends
 * outside them is its fault (a ProtocolError, 502), never a redirect, an empty 204
 * or whatever an HTTP server makes of status 99.
 */

/** Statuses a handler may choose with `HttpError`: any 4xx, or 503. */
export function isHandlerStatus(status: unknown): status is number {
  return typeof status === 'number' && Number.isInteger(status) && ((status >= 400 && status <= 499) || status === 503);
}

/**
 * Statuses an exception Reply may carry: the handler's choices above, and 500, 502, 504;
 * and 501, a receiving node that keeps no idempotency records (`--data-dir off`, SPEC §8).
 */
export function isExceptionStatus(status: unknown): status is number {
  return isHandlerStatus(status) || status === 500 || status === 501 || status === 502 || status === 504;
}

/** The only status a value Reply may carry; 0 (the field absent) means the same. */
export const VALUE_STATUS = 200;
