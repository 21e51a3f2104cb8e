import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { REQUEST_ID_PATTERN, saneRequestId } from '@restpipe/core';

/** What we accept as a caller's request id: the rule of core's request-id.ts. */
export { REQUEST_ID_PATTERN };

/** The caller's `X-Request-Id` when it is sane (1 to 128 printable ASCII), else a fresh UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return saneRequestId(Array.isArray(given) ? given[0] : given, randomUUID);
}
