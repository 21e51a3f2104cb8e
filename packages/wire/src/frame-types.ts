/**
 * The shapes of frames and the one constant of their framing: a leaf, which the
 * codecs (frames.ts, hot-layout.ts, hot-writer.ts, hot-reader.ts, frame-writer.ts,
 * frame-decoder.ts) share without importing each other. The schema is `proto/restpipe/v1/pipe.proto`.
 */

/** Bytes of the big-endian length prefix in front of every frame. */
export const LENGTH_PREFIX_BYTES = 4;

export interface Limits {
  heartbeatMs: number;
  maxEventBytes: number;
  maxInFlight: number;
  maxConcurrency: number;
  /** Inbound event bytes the sender of this Hello holds at once; 0 when it did not say. */
  maxInboundBytes: number;
  /** The sender of this Hello keeps idempotency keys (SPEC §8); undefined: an older peer that would ignore them. */
  idempotencyKeys?: boolean | undefined;
  /** The sender of this Hello can wait for a held event (SPEC §9); undefined: it cannot (no data directory, or older). */
  holds?: boolean | undefined;
  /**
   * The window in bytes the sender of this Hello grants each stream it receives (SPEC §12,
   * `--stream-window-bytes`); undefined or 0: an older peer that takes no streams.
   */
  streamWindow?: number | undefined;
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
  /**
   * The sender's idempotency key (SPEC §8): the receiver runs the handler at most
   * once for it per sending peer. Decoded as undefined when absent or ''.
   */
  idempotencyKey?: string | undefined;
  /** 1 for a job's first delivery, 2 for the next...; decoded as undefined when absent or 0 (handlers see 1). */
  attempt?: number | undefined;
  /** The receiver's hold whose outcome this event asks for (SPEC §9); decoded as undefined when absent or ''. */
  hold?: string | undefined;
  /** The body follows as a stream (StreamData frames for this id, `reply` false); `data` is empty. Decoded as undefined when false. */
  streamed?: boolean | undefined;
  /** A streamed body's length in bytes, when the sender knows it; decoded as undefined when absent or 0. */
  size?: number | undefined;
}

/** HELD: the receiver holds the event for approval (SPEC §9); data is JSON {"hold","reason","expiresAt"}. */
export const ReplyKind = { VALUE: 0, EXCEPTION: 1, HELD: 2 } as const;
export type ReplyKind = (typeof ReplyKind)[keyof typeof ReplyKind];

export interface ReplyFrame {
  id: number;
  returnCode: number;
  mimeType: string;
  data: Uint8Array;
  kind: ReplyKind;
  status: number;
  /** Stored for the event's idempotency key and replayed: the handler did not run now. Decoded as undefined when false. */
  replayed?: boolean | undefined;
  /** The body follows as a stream (StreamData frames for this id, `reply` true); `data` is empty. Decoded as undefined when false. */
  streamed?: boolean | undefined;
  /** A streamed body's length in bytes, when the replier knows it; decoded as undefined when absent or 0. */
  size?: number | undefined;
}

/**
 * Which stream a stream frame is about: the body of event `id` (in the id space of
 * that event's sender), its request body (`reply` false, sent by the event's sender)
 * or its reply body (`reply` true, sent by the event's receiver).
 */
export interface StreamRef {
  id: number;
  reply: boolean;
}

/** Up to 64 KiB of a stream's body, from the side that sends it. */
export interface StreamData extends StreamRef {
  data: Uint8Array;
}

/** The sender's last frame of a stream: a clean end, or `aborted` (the source failed) with why. */
export interface StreamEnd extends StreamRef {
  aborted: boolean;
  message: string;
}

/**
 * From the side that receives a stream: `bytes` more may be sent (a credit, as
 * HTTP/2's WINDOW_UPDATE), or `stop`: send nothing more (the reader went away).
 */
export interface StreamWindow extends StreamRef {
  bytes: number;
  stop: boolean;
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
  | { kind: 'goaway'; goaway: Goaway }
  | { kind: 'holdNotice'; holdNotice: { hold: string } }
  | { kind: 'streamData'; streamData: StreamData }
  | { kind: 'streamEnd'; streamEnd: StreamEnd }
  | { kind: 'streamWindow'; streamWindow: StreamWindow };

export type FrameKind = Frame['kind'];

/** A Buffer over the same bytes: no copy. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
