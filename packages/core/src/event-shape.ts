import { ReplyKind, type EventFrame } from '@restpipe/wire';
import type { EventShape } from './diagnostics.js';

/** A body's bytes: its data, or a streamed one's announced size. */
export function bodyBytes(data: Uint8Array, streamed: boolean | undefined, size: number | undefined): number {
  return streamed ? (size ?? 0) : data.length;
}

/** The call log's view of an event (SPEC §13): `bytesIn`/`bytesOut` as the side that reports it saw them. */
export function eventShape(event: EventFrame, status: number, bytesIn: number, bytesOut: number): EventShape {
  return { verb: event.verb, noun: event.noun.join('/'), status, bytesIn, bytesOut };
}

/** An event's own body, as its sender sent it. */
export function eventBytes(event: EventFrame): number {
  return bodyBytes(event.data, event.streamed, event.size);
}

/** The HTTP status a reply maps to (SPEC §4, §9): 200 for a value, 202 for a hold, the failure's own for an exception. */
export function replyStatus(kind: ReplyKind, status: number): number {
  if (kind === ReplyKind.VALUE) return 200;
  if (kind === ReplyKind.HELD) return 202;
  return status || 500;
}
