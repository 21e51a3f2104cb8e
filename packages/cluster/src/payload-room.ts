import type { NatsConnection } from '@nats-io/transport-node';
import { BodyTooLargeError } from '@restpipe/core';

/** Room for the headers in max_payload, which counts them too. */
export const HEADER_ROOM_BYTES = 1024;

/**
 * The 413 for a payload of `bytes` that the cluster cannot carry (nats-server max_payload,
 * less room for headers); undefined when it fits, or when the server has not said its limit.
 */
export function tooLarge(nc: NatsConnection, bytes: number, what: string): BodyTooLargeError | undefined {
  const max = (nc.info?.max_payload ?? 0) - HEADER_ROOM_BYTES;
  if (max <= 0 || bytes <= max) return undefined;
  return new BodyTooLargeError(`the ${what} is ${bytes} bytes; the cluster carries at most ${max} (nats-server max_payload)`);
}
