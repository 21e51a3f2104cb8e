import type { StreamRef } from '@restpipe/wire';

/** The most body bytes in one StreamData frame (SPEC §12). */
export const MAX_STREAM_FRAME_BYTES = 64 * 1024;
/** What each stream's receiver grants at first, and at most holds: `--stream-window-bytes`. */
export const DEFAULT_STREAM_WINDOW_BYTES = 256 * 1024;
/** Streams a connection receives at once (request bodies of the peer's events, and replies to ours). */
export const DEFAULT_MAX_STREAMS = 256;
/** The smallest window: one whole frame. */
export const MIN_STREAM_WINDOW_BYTES = MAX_STREAM_FRAME_BYTES;

/**
 * One number per stream of a connection, for its maps: the event id (a uint32) twice,
 * plus one for a reply body. Still a safe integer, and no string is made per frame.
 */
export function streamKey(id: number, reply: boolean): number {
  return id * 2 + (reply ? 1 : 0);
}

export function keyOf(ref: StreamRef): number {
  return streamKey(ref.id, ref.reply);
}

/** The most of an abort's message that goes in a StreamEnd, or is taken from one. */
export const MAX_END_MESSAGE_CHARS = 1024;

/** `request body of event 7` or `reply to event 7`: for messages. */
export function describe(ref: StreamRef): string {
  return ref.reply ? `reply to event ${ref.id}` : `request body of event ${ref.id}`;
}
