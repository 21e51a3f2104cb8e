import { FrameType } from './schema.js';
import { ProtocolError } from './errors.js';

/** Bytes of the big-endian length prefix in front of every frame. */
export const LENGTH_PREFIX_BYTES = 4;

export interface Limits {
  heartbeatMs: number;
  maxEventBytes: number;
  maxInFlight: number;
  maxConcurrency: number;
}

export interface Hello extends Limits {
  protocolVersion: number;
  software: string;
}

export interface HelloAck extends Hello {
  peerName: string;
}

export interface QueryParam {
  key: string;
  values: string[];
}

export interface EventFrame {
  id: number;
  verb: string;
  noun: string[];
  args: string[];
  query: QueryParam[];
  mimeType: string;
  data: Uint8Array;
  timeoutMs: number;
  requestId: string;
}

export const ReplyKind = { VALUE: 0, EXCEPTION: 1 } as const;
export type ReplyKind = (typeof ReplyKind)[keyof typeof ReplyKind];

export interface ReplyFrame {
  id: number;
  returnCode: number;
  mimeType: string;
  data: Uint8Array;
  kind: ReplyKind;
  status: number;
}

export interface Goaway {
  reason: string;
  message: string;
}

/** A decoded frame: exactly one kind, as a discriminated union. */
export type Frame =
  | { kind: 'hello'; hello: Hello }
  | { kind: 'helloAck'; helloAck: HelloAck }
  | { kind: 'event'; event: EventFrame }
  | { kind: 'reply'; reply: ReplyFrame }
  | { kind: 'ping'; ping: { seq: number } }
  | { kind: 'pong'; pong: { seq: number } }
  | { kind: 'cancel'; cancel: { id: number } }
  | { kind: 'goaway'; goaway: Goaway };

export type FrameKind = Frame['kind'];

const KINDS: ReadonlySet<string> = new Set<FrameKind>([
  'hello', 'helloAck', 'event', 'reply', 'ping', 'pong', 'cancel', 'goaway',
]);

/**
 * Encodes a frame as its length prefix and body, kept apart so that a large body
 * is never copied just to put four bytes in front of it.
 */
export function encodeFrame(frame: Frame): [prefix: Buffer, body: Buffer] {
  const body = FrameType.encode(frame as unknown as Record<string, unknown>).finish();
  const prefix = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES);
  prefix.writeUInt32BE(body.length, 0);
  return [prefix, asBuffer(body)];
}

/** Encodes a frame into one buffer, prefix included. For tests and tools. */
export function encodeFrameBytes(frame: Frame): Buffer {
  return Buffer.concat(encodeFrame(frame));
}

/** Decodes one frame body (without its prefix). Throws ProtocolError on anything malformed. */
export function decodeFrame(body: Uint8Array): Frame {
  let message: Record<string, unknown>;
  try {
    message = FrameType.decode(body) as unknown as Record<string, unknown>;
  } catch (cause) {
    throw new ProtocolError('malformed frame', { cause });
  }
  const kind = message['kind'];
  if (typeof kind !== 'string' || !KINDS.has(kind)) {
    throw new ProtocolError('frame has no known kind');
  }
  return { kind, [kind]: message[kind] } as unknown as Frame;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
