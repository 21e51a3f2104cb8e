/**
 * Event and Reply frames, which carry all the traffic, and the Ping and Pong of
 * the heartbeat, which every idle connection sends forever, encoded and decoded
 * straight between plain objects and bytes, the way `pipe.proto` lays them out.
 *
 * protobufjs stays the reference: it encodes and decodes every other frame,
 * decodes anything this module does not recognize, and the tests check both
 * codecs against each other. What this one saves is the intermediate message
 * objects, the per-field writer operations and the copies.
 */
import type { EventFrame, QueryParam, ReplyFrame, ReplyKind } from './frames.js';

/** Tag bytes: (field number << 3) | wire type. */
const TAG = {
  frameEvent: 0x1a, // Frame.event = 3, length-delimited
  frameReply: 0x22, // Frame.reply = 4, length-delimited
  framePing: 0x2a, // Frame.ping = 5, length-delimited
  framePong: 0x32, // Frame.pong = 6, length-delimited
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
  queryKey: 0x0a,
  queryValues: 0x12,
  replyId: 0x08,
  replyCode: 0x10,
  replyMime: 0x1a,
  replyData: 0x22,
  replyKind: 0x28,
  replyStatus: 0x30,
} as const;

// ---- sizes ---------------------------------------------------------------

export function varintBytes(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
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

/**
 * The last string one field carried, with its UTF-8 bytes. Verbs and media types
 * repeat from frame to frame, so they are measured and encoded once, not twice a frame.
 */
class FieldMemo {
  #text = '';
  #bytes: Buffer = Buffer.alloc(0);

  encode(text: string): Buffer {
    if (text !== this.#text) {
      this.#bytes = Buffer.from(text, 'utf8');
      this.#text = text;
    }
    return this.#bytes;
  }
}

const verbs = new FieldMemo();
const mimeTypes = new FieldMemo();

const memoField = (memo: FieldMemo, text: string): number => (text.length === 0 ? 0 : delimited(memo.encode(text).length));
const uintField = (value: number): number => (value === 0 ? 0 : 1 + varintBytes(value));
const stringField = (text: string): number => (text.length === 0 ? 0 : delimited(utf8Bytes(text)));
const delimited = (bytes: number): number => 1 + varintBytes(bytes) + bytes;

function repeatedStrings(values: readonly string[]): number {
  let size = 0;
  for (const value of values) size += delimited(utf8Bytes(value));
  return size;
}

function queryParamBytes(param: QueryParam): number {
  return stringField(param.key) + repeatedStrings(param.values);
}

/** Bytes of an Event message, data included. */
export function eventBytes(e: EventFrame): number {
  let size = uintField(e.id) + memoField(verbs, e.verb) + repeatedStrings(e.noun) + repeatedStrings(e.args);
  for (const param of e.query) size += delimited(queryParamBytes(param));
  size += memoField(mimeTypes, e.mimeType) + uintField(e.timeoutMs) + stringField(e.requestId);
  return size + (e.data.length === 0 ? 0 : delimited(e.data.length));
}

/** Bytes of a Reply message, data included. */
export function replyBytes(r: ReplyFrame): number {
  return uintField(r.id) + uintField(r.returnCode) + memoField(mimeTypes, r.mimeType) + uintField(r.kind) + uintField(r.status)
    + (r.data.length === 0 ? 0 : delimited(r.data.length));
}

/** Bytes of a Ping or Pong message. */
export function heartbeatBytes(seq: number): number {
  return uintField(seq);
}

/** Bytes of the Frame wrapper around a message of `messageBytes`. */
export function wrappedBytes(messageBytes: number): number {
  return 1 + varintBytes(messageBytes) + messageBytes;
}

// ---- writing ---------------------------------------------------------------

/**
 * Writes into a buffer sized beforehand. `data` fields come last (field order is
 * free in protobuf) so that a large body can go out as a chunk of its own.
 */
export class HotWriter {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;

  reset(buf: Buffer, pos: number): void {
    this.buf = buf;
    this.pos = pos;
  }

  varint(value: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (value >= 0x80) {
      buf[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[pos++] = value;
    this.pos = pos;
  }

  uintField(tag: number, value: number): void {
    if (value === 0) return;
    this.buf[this.pos++] = tag;
    this.varint(value);
  }

  string(tag: number, text: string): void {
    const bytes = utf8Bytes(text);
    this.buf[this.pos++] = tag;
    this.varint(bytes);
    if (bytes === text.length && bytes < 32) {
      const buf = this.buf;
      let pos = this.pos;
      for (let i = 0; i < bytes; i++) buf[pos++] = text.charCodeAt(i);
      this.pos = pos;
    } else {
      this.pos += this.buf.write(text, this.pos, bytes, 'utf8');
    }
  }

  stringField(tag: number, text: string): void {
    if (text.length > 0) this.string(tag, text);
  }

  memoField(tag: number, memo: FieldMemo, text: string): void {
    if (text.length === 0) return;
    const bytes = memo.encode(text);
    this.bytesHeader(tag, bytes.length);
    if (bytes.length > 32) {
      this.buf.set(bytes, this.pos);
      this.pos += bytes.length;
      return;
    }
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < bytes.length; i++) buf[pos++] = bytes[i]!;
    this.pos = pos;
  }

  /** The tag and length of a bytes field; the bytes themselves are the caller's. */
  bytesHeader(tag: number, length: number): void {
    this.buf[this.pos++] = tag;
    this.varint(length);
  }

  event(e: EventFrame, messageBytes: number): void {
    this.bytesHeader(TAG.frameEvent, messageBytes);
    this.uintField(TAG.eventId, e.id);
    this.memoField(TAG.eventVerb, verbs, e.verb);
    for (const segment of e.noun) this.string(TAG.eventNoun, segment);
    for (const arg of e.args) this.string(TAG.eventArgs, arg);
    for (const param of e.query) {
      this.bytesHeader(TAG.eventQuery, queryParamBytes(param));
      this.stringField(TAG.queryKey, param.key);
      for (const value of param.values) this.string(TAG.queryValues, value);
    }
    this.memoField(TAG.eventMime, mimeTypes, e.mimeType);
    this.uintField(TAG.eventTimeout, e.timeoutMs);
    this.stringField(TAG.eventRequestId, e.requestId);
    if (e.data.length > 0) this.bytesHeader(TAG.eventData, e.data.length);
  }

  /** A Ping (`pong` false) or a Pong. */
  heartbeat(pong: boolean, seq: number, messageBytes: number): void {
    this.bytesHeader(pong ? TAG.framePong : TAG.framePing, messageBytes);
    this.uintField(TAG.seq, seq);
  }

  reply(r: ReplyFrame, messageBytes: number): void {
    this.bytesHeader(TAG.frameReply, messageBytes);
    this.uintField(TAG.replyId, r.id);
    this.uintField(TAG.replyCode, r.returnCode);
    this.memoField(TAG.replyMime, mimeTypes, r.mimeType);
    this.uintField(TAG.replyKind, r.kind);
    this.uintField(TAG.replyStatus, r.status);
    if (r.data.length > 0) this.bytesHeader(TAG.replyData, r.data.length);
  }
}

// ---- reading ---------------------------------------------------------------

const EMPTY: Buffer = Buffer.alloc(0);
/** Shared by every decoded event without args or without query: most of them. */
const NONE: unknown[] = Object.freeze([]) as unknown as unknown[];

/** Thrown inside the reader; the caller falls back to protobufjs, which says what is wrong. */
class NotHot extends Error {}
const NOT_HOT = new NotHot('not a frame this codec reads');

/** Reading state; decoding is synchronous, so one module-level cursor serves every call. */
let rb: Buffer = EMPTY;
let rp = 0;
let re = 0;

function readVarint(): number {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (rp >= re) throw NOT_HOT;
    const b = rb[rp++]!;
    value |= (b & 0x7f) << shift;
    if (b < 0x80) return value >>> 0;
  }
  throw NOT_HOT; // longer than a uint32 may be: let protobufjs judge it
}

function readLength(): number {
  const n = readVarint();
  if (n > re - rp) throw NOT_HOT;
  return n;
}

function readString(): string {
  const n = readLength();
  const start = rp;
  rp += n;
  return n === 0 ? '' : rb.toString('utf8', start, rp);
}

/**
 * The last string decoded for one field, kept with its bytes: a field that repeats
 * (verb, media type, first noun segment) costs a byte compare instead of a new string.
 */
class ReadMemo {
  #bytes: Buffer = Buffer.alloc(64);
  #length = -1;
  #text = '';

  read(): string {
    const n = readLength();
    const start = rp;
    rp += n;
    if (n === this.#length && this.#same(start, n)) return this.#text;
    this.#text = n === 0 ? '' : rb.toString('utf8', start, rp);
    if (n <= this.#bytes.length) {
      rb.copy(this.#bytes, 0, start, rp);
      this.#length = n;
    } else {
      this.#length = -1;
    }
    return this.#text;
  }

  #same(start: number, n: number): boolean {
    const bytes = this.#bytes;
    for (let i = 0; i < n; i++) if (rb[start + i] !== bytes[i]) return false;
    return true;
  }
}

const verbRead = new ReadMemo();
const mimeRead = new ReadMemo();
const nounRead = new ReadMemo();

function readBytes(): Buffer {
  const n = readLength();
  const start = rp;
  rp += n;
  return rb.subarray(start, rp);
}

function readQueryParam(): QueryParam {
  const length = readLength();
  const end = rp + length;
  const outer = re;
  re = end;
  let key = '';
  const values: string[] = [];
  while (rp < end) {
    const tag = rb[rp++];
    if (tag === TAG.queryKey) key = readString();
    else if (tag === TAG.queryValues) values.push(readString());
    else throw NOT_HOT;
  }
  re = outer;
  return { key, values };
}

function readEvent(): EventFrame {
  let id = 0, timeoutMs = 0;
  let verb = '', mimeType = '', requestId = '';
  let data: Buffer = EMPTY;
  const noun: string[] = [];
  let args = NONE as string[];
  let query = NONE as QueryParam[];
  while (rp < re) {
    switch (rb[rp++]) {
      case TAG.eventId: id = readVarint(); break;
      case TAG.eventVerb: verb = verbRead.read(); break;
      case TAG.eventNoun: noun.push(noun.length === 0 ? nounRead.read() : readString()); break;
      case TAG.eventArgs: ((args as unknown[]) === NONE ? (args = []) : args).push(readString()); break;
      case TAG.eventQuery: ((query as unknown[]) === NONE ? (query = []) : query).push(readQueryParam()); break;
      case TAG.eventMime: mimeType = mimeRead.read(); break;
      case TAG.eventData: data = readBytes(); break;
      case TAG.eventTimeout: timeoutMs = readVarint(); break;
      case TAG.eventRequestId: requestId = readString(); break;
      default: throw NOT_HOT;
    }
  }
  return { id, verb, noun, args, query, mimeType, data, timeoutMs, requestId };
}

function readReply(): ReplyFrame {
  let id = 0, returnCode = 0, kind = 0, status = 0;
  let mimeType = '';
  let data: Buffer = EMPTY;
  while (rp < re) {
    switch (rb[rp++]) {
      case TAG.replyId: id = readVarint(); break;
      case TAG.replyCode: returnCode = readVarint(); break;
      case TAG.replyMime: mimeType = mimeRead.read(); break;
      case TAG.replyData: data = readBytes(); break;
      case TAG.replyKind: kind = readVarint(); break;
      case TAG.replyStatus: status = readVarint(); break;
      default: throw NOT_HOT;
    }
  }
  return { id, returnCode, mimeType, data, kind: kind as ReplyKind, status };
}

export type HotFrame =
  | { kind: 'event'; event: EventFrame }
  | { kind: 'reply'; reply: ReplyFrame }
  | { kind: 'ping'; ping: { seq: number } }
  | { kind: 'pong'; pong: { seq: number } };

function readSeq(): number {
  let seq = 0;
  while (rp < re) {
    if (rb[rp++] !== TAG.seq) throw NOT_HOT;
    seq = readVarint();
  }
  return seq;
}

function readHot(first: number): HotFrame {
  switch (first) {
    case TAG.frameEvent: return { kind: 'event', event: readEvent() };
    case TAG.frameReply: return { kind: 'reply', reply: readReply() };
    case TAG.framePing: return { kind: 'ping', ping: { seq: readSeq() } };
    default: return { kind: 'pong', pong: { seq: readSeq() } };
  }
}

/**
 * Decodes a frame body that is exactly one Event, Reply, Ping or Pong in the
 * layout this project writes. Anything else (other kinds, unknown fields, repeated
 * oneof members, malformed bytes) returns undefined, for protobufjs to decode or reject.
 */
export function decodeHotFrame(body: Buffer): HotFrame | undefined {
  const first = body[0];
  if (first !== TAG.frameEvent && first !== TAG.frameReply && first !== TAG.framePing && first !== TAG.framePong) return undefined;
  rb = body;
  rp = 1;
  re = body.length;
  try {
    if (readVarint() !== re - rp) return undefined;
    return readHot(first);
  } catch (error) {
    if (error === NOT_HOT) return undefined;
    throw error;
  } finally {
    rb = EMPTY;
  }
}
