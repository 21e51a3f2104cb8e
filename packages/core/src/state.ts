/**
 * The life of a connection:
 *
 *   HANDSHAKING -> OPEN -> DRAINING -> CLOSING -> CLOSED
 *        |           |________________^   ^        ^
 *        |_______________________________|________|
 *
 * - HANDSHAKING: TLS is up; the Hello exchange is running.
 * - OPEN: requests go both ways.
 * - DRAINING: a Goaway `shutdown` was sent or received: in-flight work in both
 *   directions finishes, no new request of ours starts (503 at once).
 * - CLOSING: our Goaway is on its way, or draining is over: nothing more is read
 *   or sent, and the socket half-closes.
 * - CLOSED: the socket is gone; every request still waiting failed.
 */
export const ConnectionState = {
  HANDSHAKING: 'handshaking',
  OPEN: 'open',
  DRAINING: 'draining',
  CLOSING: 'closing',
  CLOSED: 'closed',
} as const;

export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

/** For each state, the states it may be entered from. */
const ENTERED_FROM: Record<ConnectionState, readonly ConnectionState[]> = {
  handshaking: [],
  open: ['handshaking'],
  draining: ['open'],
  closing: ['handshaking', 'open', 'draining'],
  closed: ['handshaking', 'open', 'draining', 'closing'],
};

export function isAllowedTransition(from: ConnectionState, to: ConnectionState): boolean {
  return ENTERED_FROM[to].includes(from);
}

/** Why a connection ended, as logged and passed to `onDisconnect`. */
export const CloseReason = {
  CLOSED: 'closed',
  PEER_CLOSED: 'peer_closed',
  SHUTDOWN: 'shutdown',
  DUPLICATE_IDENTITY: 'duplicate_identity',
  HEARTBEAT_TIMEOUT: 'heartbeat_timeout',
  HELLO_TIMEOUT: 'hello_timeout',
  FRAME_TOO_LARGE: 'frame_too_large',
  PROTOCOL_ERROR: 'protocol_error',
  SLOW_CONSUMER: 'slow_consumer',
  REVOKED: 'revoked',
  SOCKET_ERROR: 'socket_error',
} as const;

export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason] | `goaway:${string}`;
