/**
 * Event and Reply frames, which carry all the traffic, and the Ping and Pong of
 * the heartbeat, which every idle connection sends forever, encoded and decoded
 * straight between plain objects and bytes, the way `pipe.proto` lays them out.
 *
 * protobufjs stays the reference: it encodes and decodes every other frame,
 * decodes anything this module does not recognize, and the tests check both
 * codecs against each other. What this one saves is the intermediate message
 * objects, the per-field writer operations and the copies.
 *
 * No mutable state at module level: a HotWriter (one per FrameWriter) and a HotReader
 * (one per FrameDecoder) each hold their own cursor and their own memos of the
 * verbs and media types their connection repeats.
 */
import type { EventFrame, QueryParam, ReplyFrame, ReplyKind } from './frame-types.js';

const EMPTY: Buffer = Buffer.alloc(0);

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
  eventIdempotencyKey: 0x52, // Event.idempotency_key = 10, length-delimited
  eventAttempt: 0x58, // Event.attempt = 11, varint
  eventHold: 0x62, // Event.hold = 12, length-delimited
  queryKey: 0x0a,
  queryValues: 0x12,
  replyId: 0x08,
  replyCode: 0x10,
  replyMime: 0x1a,
  replyData: 0x22,
  replyKind: 0x28,
  replyStatus: 0x30,
  replyReplayed: 0x38, // Reply.replayed = 7, varint
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
  #bytes: Buffer = EMPTY;

  encode(text: string): Buffer {
    if (text !== this.#text) {
      this.#bytes = Buffer.from(text, 'utf8');
      this.#text = text;
    }
    return this.#bytes;
  }
}

const memoField = (memo: FieldMemo, text: string): number => (text.length === 0 ? 0 : delimited(memo.encode(text).length));
const uintField = (value: number): number => (value === 0 ? 0 : 1 + varintBytes(value));
const stringField = (text: string): number => (text.length === 0 ? 0 : delimited(utf8Bytes(text)));
const delimited = (bytes: number): number => 1 + varintBytes(bytes) + bytes;

/**
 * The optional fields of jobs (SPEC §8), as proto3 writes them: only when not the
 * default. Measuring and writing both ask these, so that they never disagree.
 */
const keyOf = (e: EventFrame): string => (typeof e.idempotencyKey === 'string' ? e.idempotencyKey : '');
const attemptOf = (e: EventFrame): number => (e.attempt !== undefined && e.attempt > 0 ? e.attempt : 0);
const holdOf = (e: EventFrame): string => (typeof e.hold === 'string' ? e.hold : '');

function repeatedStrings(values: readonly string[]): number {
  let size = 0;
  for (const value of values) size += delimited(utf8Bytes(value));
  return size;
}

function queryParamBytes(param: QueryParam): number {
  return stringField(param.key) + repeatedStrings(param.values);
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
 * Measures frames, then writes them into a buffer sized beforehand. `data` fields
 * come last (field order is free in protobuf) so that a large body can go out as
 * a chunk of its own. Each FrameWriter owns one; `buf` and `pos` are its cursor.
 */
export class HotWriter {
  buf: Buffer = EMPTY;
  pos = 0;
  readonly #verbs = new FieldMemo();
  readonly #mimeTypes = new FieldMemo();

  /** Bytes of an Event message, data included. */
  eventBytes(e: EventFrame): number {
    let size = uintField(e.id) + memoField(this.#verbs, e.verb) + repeatedStrings(e.noun) + repeatedStrings(e.args);
    for (const param of e.query) size += delimited(queryParamBytes(param));
    size += memoField(this.#mimeTypes, e.mimeType) + uintField(e.timeoutMs) + stringField(e.requestId);
    size += stringField(keyOf(e)) + uintField(attemptOf(e)) + stringField(holdOf(e));
    return size + (e.data.length === 0 ? 0 : delimited(e.data.length));
  }

  /** Bytes of a Reply message, data included. */
  replyBytes(r: ReplyFrame): number {
    return uintField(r.id) + uintField(r.returnCode) + memoField(this.#mimeTypes, r.mimeType) + uintField(r.kind) + uintField(r.status)
      + (r.replayed === true ? 2 : 0) + (r.data.length === 0 ? 0 : delimited(r.data.length));
  }

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
    this.memoField(TAG.eventVerb, this.#verbs, e.verb);
    for (const segment of e.noun) this.string(TAG.eventNoun, segment);
    for (const arg of e.args) this.string(TAG.eventArgs, arg);
    for (const param of e.query) {
      this.bytesHeader(TAG.eventQuery, queryParamBytes(param));
      this.stringField(TAG.queryKey, param.key);
      for (const value of param.values) this.string(TAG.queryValues, value);
    }
    this.memoField(TAG.eventMime, this.#mimeTypes, e.mimeType);
    this.uintField(TAG.eventTimeout, e.timeoutMs);
    this.stringField(TAG.eventRequestId, e.requestId);
    this.stringField(TAG.eventIdempotencyKey, keyOf(e));
    this.uintField(TAG.eventAttempt, attemptOf(e));
    this.stringField(TAG.eventHold, holdOf(e));
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
    this.memoField(TAG.replyMime, this.#mimeTypes, r.mimeType);
    this.uintField(TAG.replyKind, r.kind);
    this.uintField(TAG.replyStatus, r.status);
    if (r.replayed === true) this.uintField(TAG.replyReplayed, 1);
    if (r.data.length > 0) this.bytesHeader(TAG.replyData, r.data.length);
  }
}

// ---- reading ---------------------------------------------------------------

/** Shared by every decoded event without args or without query: most of them. */
const NONE: unknown[] = Object.freeze([]) as unknown as unknown[];

/** Longest string a ReadMemo keeps the bytes of. */
const MEMO_BYTES = 64;

/** Thrown inside the reader; the caller falls back to protobufjs, which says what is wrong. */
class NotHot extends Error {}
const NOT_HOT = new NotHot('not a frame this codec reads');

/**
 * The last string decoded for one field, kept with its bytes: a field that repeats
 * (verb, media type, first noun segment) costs a byte compare instead of a new string.
 */
class ReadMemo {
  /** Allocated on first use: a connection that only ever sees heartbeats needs none. */
  #bytes: Buffer = EMPTY;
  #length = -1;
  #text = '';

  /** `capacity` 0 remembers nothing, for a reader used once. */
  constructor(readonly capacity: number) {}

  /** The string in `buf` from `start` to `end`. */
  text(buf: Buffer, start: number, end: number): string {
    const n = end - start;
    if (n === this.#length && this.#same(buf, start, n)) return this.#text;
    this.#text = n === 0 ? '' : buf.toString('utf8', start, end);
    if (n <= this.capacity) {
      if (this.#bytes.length < this.capacity) this.#bytes = Buffer.allocUnsafe(this.capacity);
      buf.copy(this.#bytes, 0, start, end);
      this.#length = n;
    } else {
      this.#length = -1;
    }
    return this.#text;
  }

  #same(buf: Buffer, start: number, n: number): boolean {
    const bytes = this.#bytes;
    for (let i = 0; i < n; i++) if (buf[start + i] !== bytes[i]) return false;
    return true;
  }
}

export type HotFrame =
  | { kind: 'event'; event: EventFrame }
  | { kind: 'reply'; reply: ReplyFrame }
  | { kind: 'ping'; ping: { seq: number } }
  | { kind: 'pong'; pong: { seq: number } };

/**
 * Reads the hot frames. Each FrameDecoder owns one; the cursor lives only for
 * one decode() (which never calls out), the memos as long as the reader.
 */
export class HotReader {
  #buf: Buffer = EMPTY;
  #pos = 0;
  #end = 0;
  readonly #verbs: ReadMemo;
  readonly #mimeTypes: ReadMemo;
  readonly #nouns: ReadMemo;

  /** `memoBytes` 0 for a reader used once (decodeFrame): nothing to remember then. */
  constructor(memoBytes = MEMO_BYTES) {
    this.#verbs = new ReadMemo(memoBytes);
    this.#mimeTypes = new ReadMemo(memoBytes);
    this.#nouns = new ReadMemo(memoBytes);
  }

  /**
   * Decodes a frame body that is exactly one Event, Reply, Ping or Pong in the
   * layout this project writes. Anything else (other kinds, unknown fields, repeated
   * oneof members, malformed bytes) returns undefined, for protobufjs to decode or reject.
   */
  decode(body: Buffer): HotFrame | undefined {
    const first = body[0];
    if (first !== TAG.frameEvent && first !== TAG.frameReply && first !== TAG.framePing && first !== TAG.framePong) return undefined;
    this.#buf = body;
    this.#pos = 1;
    this.#end = body.length;
    try {
      if (this.#varint() !== this.#end - this.#pos) return undefined;
      return this.#frame(first);
    } catch (error) {
      if (error === NOT_HOT) return undefined;
      throw error;
    } finally {
      this.#buf = EMPTY; // keep no chunk alive between frames
    }
  }

  #frame(first: number): HotFrame {
    switch (first) {
      case TAG.frameEvent: return { kind: 'event', event: this.#event() };
      case TAG.frameReply: return { kind: 'reply', reply: this.#reply() };
      case TAG.framePing: return { kind: 'ping', ping: { seq: this.#seq() } };
      default: return { kind: 'pong', pong: { seq: this.#seq() } };
    }
  }

  #varint(): number {
    const buf = this.#buf;
    const end = this.#end;
    let pos = this.#pos;
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= end) throw NOT_HOT;
      const b = buf[pos++]!;
      value |= (b & 0x7f) << shift;
      if (b < 0x80) {
        this.#pos = pos;
        return value >>> 0;
      }
    }
    throw NOT_HOT; // longer than a uint32 may be: let protobufjs judge it
  }

  /** A length prefix; returns where its bytes start, and moves past them. */
  #skipDelimited(): number {
    const n = this.#varint();
    const start = this.#pos;
    if (n > this.#end - start) throw NOT_HOT;
    this.#pos = start + n;
    return start;
  }

  #string(): string {
    const start = this.#skipDelimited();
    return start === this.#pos ? '' : this.#buf.toString('utf8', start, this.#pos);
  }

  #memo(memo: ReadMemo): string {
    const start = this.#skipDelimited();
    return memo.text(this.#buf, start, this.#pos);
  }

  #bytes(): Buffer {
    const start = this.#skipDelimited();
    return this.#buf.subarray(start, this.#pos);
  }

  #queryParam(): QueryParam {
    const start = this.#skipDelimited();
    const end = this.#pos;
    const outer = this.#end;
    this.#pos = start;
    this.#end = end;
    let key = '';
    const values: string[] = [];
    while (this.#pos < end) {
      const tag = this.#buf[this.#pos++];
      if (tag === TAG.queryKey) key = this.#string();
      else if (tag === TAG.queryValues) values.push(this.#string());
      else throw NOT_HOT;
    }
    this.#end = outer;
    return { key, values };
  }

  #event(): EventFrame {
    let id = 0, timeoutMs = 0;
    let verb = '', mimeType = '', requestId = '';
    let idempotencyKey: string | undefined, attempt: number | undefined, hold: string | undefined;
    let data: Buffer = EMPTY;
    const noun: string[] = [];
    let args = NONE as string[];
    let query = NONE as QueryParam[];
    while (this.#pos < this.#end) {
      switch (this.#buf[this.#pos++]) {
        case TAG.eventId: id = this.#varint(); break;
        case TAG.eventVerb: verb = this.#memo(this.#verbs); break;
        case TAG.eventNoun: noun.push(noun.length === 0 ? this.#memo(this.#nouns) : this.#string()); break;
        case TAG.eventArgs: ((args as unknown[]) === NONE ? (args = []) : args).push(this.#string()); break;
        case TAG.eventQuery: ((query as unknown[]) === NONE ? (query = []) : query).push(this.#queryParam()); break;
        case TAG.eventMime: mimeType = this.#memo(this.#mimeTypes); break;
        case TAG.eventData: data = this.#bytes(); break;
        case TAG.eventTimeout: timeoutMs = this.#varint(); break;
        case TAG.eventRequestId: requestId = this.#string(); break;
        // Absent and default alike are undefined, as frames.ts makes protobufjs's.
        case TAG.eventIdempotencyKey: idempotencyKey = this.#string() || undefined; break;
        case TAG.eventAttempt: attempt = this.#varint() || undefined; break;
        case TAG.eventHold: hold = this.#string() || undefined; break;
        default: throw NOT_HOT;
      }
    }
    return { id, verb, noun, args, query, mimeType, data, timeoutMs, requestId, idempotencyKey, attempt, hold };
  }

  #reply(): ReplyFrame {
    let id = 0, returnCode = 0, kind = 0, status = 0;
    let mimeType = '';
    let data: Buffer = EMPTY;
    let replayed: true | undefined;
    while (this.#pos < this.#end) {
      switch (this.#buf[this.#pos++]) {
        case TAG.replyId: id = this.#varint(); break;
        case TAG.replyCode: returnCode = this.#varint(); break;
        case TAG.replyMime: mimeType = this.#memo(this.#mimeTypes); break;
        case TAG.replyData: data = this.#bytes(); break;
        case TAG.replyKind: kind = this.#varint(); break;
        case TAG.replyStatus: status = this.#varint(); break;
        case TAG.replyReplayed: replayed = this.#varint() !== 0 || undefined; break;
        default: throw NOT_HOT;
      }
    }
    return { id, returnCode, mimeType, data, kind: kind as ReplyKind, status, replayed };
  }

  #seq(): number {
    let seq = 0;
    while (this.#pos < this.#end) {
      if (this.#buf[this.#pos++] !== TAG.seq) throw NOT_HOT;
      seq = this.#varint();
    }
    return seq;
  }
}
