/**
 * Text a peer sends that this side logs or passes on: a Goaway's reason and
 * message. Each may be as long as a frame (megabytes), and any bytes; none of
 * it may become a log line of megabytes, a close reason nobody can match, or
 * control characters in a terminal.
 */

/** Longest free text from a peer that is kept. */
export const MAX_PEER_TEXT_LENGTH = 256;
/** A reason is a word like ours (`duplicate_identity`, `shutdown`). */
const REASON = /^[a-z][a-z0-9_]{0,63}$/;
/** C0 and C1 controls, DEL, line and paragraph separators. */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** A Goaway reason: the peer's when it is a word of at most 64 characters, else `unknown`. */
export function peerReason(raw: string): string {
  return raw.length <= 64 && REASON.test(raw) ? raw : 'unknown';
}

/**
 * Free text from a peer, for logs and error messages: control characters as
 * spaces, cut at MAX_PEER_TEXT_LENGTH characters with the length it had.
 */
export function peerText(raw: string): string {
  return cutPeerText(raw, MAX_PEER_TEXT_LENGTH).replace(CONTROLS, ' ');
}

/**
 * Longer text from a peer kept as it came, line breaks and all (an exception
 * envelope's message and traceback): cut at `max` characters with the length it had.
 */
export function cutPeerText(raw: string, max: number): string {
  return raw.length <= max ? raw : `${raw.slice(0, max)}... (${raw.length} characters)`;
}
