/**
 * The reference codec (protobufjs) and decodeFrame, which reads the hot kinds
 * with the hot codec and leaves the rest to protobufjs. Stateless; a connection
 * decodes through its FrameDecoder and encodes through its FrameWriter, which
 * keep their own state.
 */
import { ProtocolError } from '@restpipe/errors';
import { LENGTH_PREFIX_BYTES, type Frame, type FrameKind } from './frame-types.js';
import { HotReader } from './hot-reader.js';
import { FrameType } from './schema.js';
import { checkWireFormat } from './wire-check.js';

export * from './frame-types.js';

const KINDS: ReadonlySet<string> = new Set<FrameKind>([
  'hello', 'helloAck', 'event', 'reply', 'ping', 'pong', 'cancel', 'goaway', 'holdNotice',
  'streamData', 'streamEnd', 'streamWindow',
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

/**
 * How protobufjs's messages become frames: plain objects with every field, a
 * field left off the wire as its default (bytes as an empty Buffer). A decoded
 * message keeps its defaults on its prototype, `data` there being an empty
 * Array, which no Buffer code takes. A uint64 (a streamed body's `size`) as a
 * number, not a Long: wire-check.ts has refused any past 2^53 - 1, which a number
 * would not hold exactly.
 */
const AS_FRAME = { defaults: true, arrays: true, oneofs: true, longs: Number } as const;

/**
 * The optional fields of jobs (SPEC §8) and of streams (SPEC §12): proto3 cannot
 * tell a default from an absent field, so both are undefined (the property always
 * there, as the hot codec decodes it) and a frame without them equals one built
 * without them.
 */
function withOptionalFields(kind: string, message: Record<string, unknown>): void {
  if (kind === 'event') {
    if (message['idempotencyKey'] === '') message['idempotencyKey'] = undefined;
    if (message['attempt'] === 0) message['attempt'] = undefined;
    if (message['hold'] === '') message['hold'] = undefined;
    withStreamFields(message);
  } else if (kind === 'reply') {
    if (message['replayed'] === false) message['replayed'] = undefined;
    withStreamFields(message);
  } else if (kind === 'hello' || kind === 'helloAck') {
    if (message['idempotencyKeys'] === false) message['idempotencyKeys'] = undefined;
    if (message['holds'] === false) message['holds'] = undefined;
    if (message['streamWindow'] === 0) message['streamWindow'] = undefined;
  }
}

/** An Event's or a Reply's `streamed` and `size`. */
function withStreamFields(message: Record<string, unknown>): void {
  if (message['streamed'] === false) message['streamed'] = undefined;
  if (message['size'] === 0) message['size'] = undefined;
}

/**
 * Decodes one frame body (without its prefix). Throws ProtocolError on anything
 * malformed. For tools and tests; a connection uses FrameDecoder.decode(), whose
 * reader's memos last from frame to frame.
 */
export function decodeFrame(body: Buffer): Frame {
  return decodeFrameWith(new HotReader(0), body);
}

/** decodeFrame with a reader that lasts (a FrameDecoder's). Internal to wire. */
export function decodeFrameWith(reader: HotReader, body: Buffer): Frame {
  const hot = reader.decode(body);
  if (hot) return hot;
  let message: Record<string, unknown>;
  try {
    checkWireFormat(body, FrameType);
    message = FrameType.toObject(FrameType.decode(body), AS_FRAME);
  } catch (cause) {
    throw new ProtocolError('malformed frame', { cause });
  }
  const kind = message['kind'];
  if (typeof kind !== 'string' || !KINDS.has(kind)) {
    throw new ProtocolError('frame has no known kind');
  }
  withOptionalFields(kind, message[kind] as Record<string, unknown>);
  return { kind, [kind]: message[kind] } as unknown as Frame;
}
