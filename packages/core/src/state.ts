export const ConnectionState = {
  HANDSHAKING: 'handshaking',
  OPEN: 'open',
  /** Goaway sent or received: in-flight work finishes, nothing new starts. */
  DRAINING: 'draining',
  CLOSED: 'closed',
} as const;

export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];

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
