/**
 * The hot codec: Event and Reply frames, which carry all the traffic, the
 * StreamData and StreamWindow frames of streamed bodies (SPEC §12), and the Ping
 * and Pong of the heartbeat, which every idle connection sends forever, encoded
 * and decoded straight between plain objects and bytes, the way `pipe.proto`
 * lays them out. This file is that layout, the tags and the sizes, which the
 * writer (hot-writer.ts) and the reader (hot-reader.ts) share.
 *
 * protobufjs stays the reference: it encodes and decodes every other frame,
 * decodes anything the hot codec does not recognize, and the tests check both
 * codecs against each other. What this one saves is the intermediate message
 * objects, the per-field writer operations and the copies.
 */
import type { EventFrame, QueryParam, ReplyFrame, StreamData, StreamWindow } from './frame-types.js';

export const EMPTY: Buffer = Buffer.alloc(0);

/** Tag bytes: (field number << 3) | wire type. */
export const TAG = {
  frameEvent: 0x1a, // Frame.event = 3, length-delimited
  frameReply: 0x22, // Frame.reply = 4, length-delimited
  framePing: 0x2a, // Frame.ping = 5, length-delimited
  framePong: 0x32, // Frame.pong = 6, length-delimited
  frameStreamData: 0x52, // Frame.stream_data = 10, length-delimited
  frameStreamWindow: 0x62, // Frame.stream_window = 12, length-delimited
  seq: 0x08, // Ping.seq and Pong.seq
  eventId: 0x08,
  eventVerb: 0x12,
  eventNoun: 0x1a,
  eventArgs: 0x22,
  eventQuery: 0x2a,
  eventMime: 0x32,
  eventData: 0x3a,
  eventTimeout: 0x40,
  eventRequestId: 0x4a,
  eventIdempotencyKey: 0x52, // Event.idempotency_key = 10, length-delimited
  eventAttempt: 0x58, // Event.attempt = 11, varint
  eventHold: 0x62, // Event.hold = 12, length-delimited
  eventStreamed: 0x68, // Event.streamed = 13, varint
  eventSize: 0x70, // Event.size = 14, varint (uint64)
  queryKey: 0x0a,
  queryValues: 0x12,
  replyId: 0x08,
  replyCode: 0x10,
  replyMime: 0x1a,
  replyData: 0x22,
  replyKind: 0x28,
  replyStatus: 0x30,
  replyReplayed: 0x38, // Reply.replayed = 7, varint
  replyStreamed: 0x40, // Reply.streamed = 8, varint
  replySize: 0x48, // Reply.size = 9, varint (uint64)
  streamId: 0x08, // StreamData.id and StreamWindow.id
  streamReply: 0x10, // StreamData.reply and StreamWindow.reply
  streamDataBytes: 0x1a, // StreamData.data = 3, length-delimited
  windowBytes: 0x18, // StreamWindow.bytes = 3, varint
  windowStop: 0x20, // StreamWindow.stop = 4, varint
} as const;

// ---- sizes ---------------------------------------------------------------

export function varintBytes(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

/** Bytes of the varint of a uint64 held in a number (a safe integer: at most 2^53 - 1). */
export function varint64Bytes(value: number): number {
  if (value < 0x10000000) return varintBytes(value);
  let bytes = 4;
  for (let rest = Math.floor(value / 0x10000000); rest > 0; rest = Math.floor(rest / 0x80)) bytes++;
  return bytes;
}

/** UTF-8 length; short ASCII, the usual case, without leaving JavaScript. */
export function utf8Bytes(text: string): number {
  const n = text.length;
  if (n > 48) return Buffer.byteLength(text, 'utf8');
  for (let i = 0; i < n; i++) {
    if (text.charCodeAt(i) >= 0x80) return Buffer.byteLength(text, 'utf8');
  }
  return n;
}

export const uintField = (value: number): number => (value === 0 ? 0 : 1 + varintBytes(value));
export const uint64Field = (value: number): number => (value === 0 ? 0 : 1 + varint64Bytes(value));
/** A bool field: written only when true, as the varint 1. */
export const boolField = (value: boolean | undefined): number => (value === true ? 2 : 0);
export const stringField = (text: string): number => (text.length === 0 ? 0 : delimited(utf8Bytes(text)));
export const delimited = (bytes: number): number => 1 + varintBytes(bytes) + bytes;
/** A body last in its message, left off when empty. */
export const dataField = (data: Uint8Array): number => (data.length === 0 ? 0 : delimited(data.length));

export function repeatedStringsBytes(values: readonly string[]): number {
  let size = 0;
  for (const value of values) size += delimited(utf8Bytes(value));
  return size;
}

export function queryParamBytes(param: QueryParam): number {
  return stringField(param.key) + repeatedStringsBytes(param.values);
}

/**
 * The optional fields of jobs (SPEC §8) and of streams (SPEC §12), as proto3
 * writes them: only when not the default. Measuring and writing both ask these,
 * so that they never disagree.
 */
export const keyOf = (e: EventFrame): string => (typeof e.idempotencyKey === 'string' ? e.idempotencyKey : '');
export const attemptOf = (e: EventFrame): number => (e.attempt !== undefined && e.attempt > 0 ? e.attempt : 0);
export const holdOf = (e: EventFrame): string => (typeof e.hold === 'string' ? e.hold : '');
export const sizeOf = (m: EventFrame | ReplyFrame): number => (m.size !== undefined && m.size > 0 ? m.size : 0);

/** Bytes of a Ping or Pong message. */
export function heartbeatBytes(seq: number): number {
  return uintField(seq);
}

/** Bytes of a StreamData message, data included. */
export function streamDataBytes(d: StreamData): number {
  return uintField(d.id) + boolField(d.reply) + dataField(d.data);
}

/** Bytes of a StreamWindow message. */
export function streamWindowBytes(w: StreamWindow): number {
  return uintField(w.id) + boolField(w.reply) + uintField(w.bytes) + boolField(w.stop);
}

/** Bytes of the Frame wrapper around a message of `messageBytes`. */
export function wrappedBytes(messageBytes: number): number {
  return 1 + varintBytes(messageBytes) + messageBytes;
}
