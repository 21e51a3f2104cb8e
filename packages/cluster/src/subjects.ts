/**
 * The NATS subjects of a cluster (SPEC §11). A client name may hold `.`, which NATS
 * reads as a token separator; names never hold `~` (NAME_PATTERN), so `.` becomes `~`,
 * one to one. Keep these subjects out of every JetStream stream: a stream that captures
 * a request subject answers it with a PubAck (LESSONS.md).
 */
const ROOT = 'rp.v1';

/** A name or node id as one subject token: neither ever holds `~` (NAME_PATTERN, NODE_ID). */
function token(text: string): string {
  return text.replaceAll('.', '~');
}

/**
 * Requests for one client at the node that claimed it: `rp.v1.to.NAME.NODE`. A sender
 * addresses the holder it knows of, never a subject every holder of the name shares: an old
 * holder that is frozen (half-open) with its subscription still open is sent nothing once
 * the newer claim is known, instead of taking a share of the requests (LESSONS.md).
 */
export function clientSubject(name: string, node: string): string {
  return `${ROOT}.to.${token(name)}.${token(node)}`;
}

/** A node subscribes its clients' subjects in this queue group: one delivery even while a resubscription overlaps. */
export const QUEUE = 'rp';
/** A node claims a name with an epoch, or lets it go. */
export const CLAIMS = `${ROOT}.claim`;
/** Each node's heartbeat: its clients and their epochs. */
export const BEATS = `${ROOT}.beat`;
/** A node (re)joining asks every other node for its whole state... */
export const SYNC = `${ROOT}.sync`;
/** ...which each publishes here, names seen included. */
export const STATE = `${ROOT}.state`;
/** Scatter-gather of `/_rp/clients`. */
export const CLIENTS = `${ROOT}.clients`;
/** A broadcast: every node sends the event to all its clients. */
export const BROADCAST = `${ROOT}.bcast`;
/** A client's hold notice, for the node whose job waits on it. */
export const HOLDS = `${ROOT}.hold`;
/** The caller of a forwarded request hung up. */
export const CANCELS = `${ROOT}.cancel`;

/**
 * The streams relayed to this node (SPEC §12 across nodes): `rp.v1.stream.NODE.ID.d` carries
 * a stream's data and end to the node that reads it, `rp.v1.stream.NODE.ID.w` its credit and
 * stop to the node that sends it. Each node subscribes once to its own `rp.v1.stream.NODE.>`.
 */
export function streamSubject(node: string, id: string, kind: StreamSubjectKind): string {
  return `${ROOT}.stream.${token(node)}.${id}.${kind}`;
}

export type StreamSubjectKind = 'd' | 'w';

/** Every stream subject of `node`. */
export function streamsOf(node: string): string {
  return `${ROOT}.stream.${token(node)}.>`;
}
