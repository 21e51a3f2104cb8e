import { ReplyKind, type EventFrame } from '@restpipe/wire';
import { handlerMethodName } from './dispatch.js';
import type { EventShape } from './diagnostics.js';

/** A body's bytes: its data, or a streamed one's announced size. */
export function bodyBytes(data: Uint8Array, streamed: boolean | undefined, size: number | undefined): number {
  return streamed ? (size ?? 0) : data.length;
}

/**
 * The call log's view of an event (SPEC §13): `bytesIn`/`bytesOut` as the side that reports it
 * saw them. An event that collects (or withdraws) a hold's outcome (SPEC §9) says so as its verb:
 * its `get` (`delete`) on the wire is no handler's.
 */
export function eventShape(event: EventFrame, status: number, bytesIn: number, bytesOut: number): EventShape {
  const verb = event.hold ? (event.verb === 'delete' ? 'withdraw' : 'collect') : event.verb;
  return { verb, noun: event.noun.join('/'), status, bytesIn, bytesOut };
}

/** The handler an event of ours calls on the far side; none for a hold's collect or withdraw. */
export function farHandlerName(event: EventFrame): string {
  return event.hold ? '' : handlerMethodName(event.verb, event.noun);
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
