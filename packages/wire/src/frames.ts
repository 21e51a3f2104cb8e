import { FrameType } from './schema.js';
import { ProtocolError } from './errors.js';
import { decodeHotFrame } from './hot-codec.js';

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
 * Encodes one frame, prefix included, with protobufjs: the reference codec, for
 * tests and tools. Connections batch their frames through FrameWriter.
 */
export function encodeFrameBytes(frame: Frame): Buffer {
  const body = FrameType.encode(frame as unknown as Record<string, unknown>).finish();
  const bytes = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + body.length);
  bytes.writeUInt32BE(body.length, 0);
  bytes.set(body, LENGTH_PREFIX_BYTES);
  return bytes;
}

/** Decodes one frame body (without its prefix). Throws ProtocolError on anything malformed. */
export function decodeFrame(body: Buffer): Frame {
  const hot = decodeHotFrame(body);
  if (hot) return hot;
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

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
