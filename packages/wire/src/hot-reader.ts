/**
 * The reading half of the hot codec (layout in hot-layout.ts). No mutable state
 * at module level: each FrameDecoder owns a HotReader, with its own memos of the
 * verbs and media types its connection repeats.
 */
import type { EventFrame, QueryParam, ReplyFrame, ReplyKind, StreamData, StreamWindow } from './frame-types.js';
import { EMPTY, TAG } from './hot-layout.js';

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
  | { kind: 'pong'; pong: { seq: number } }
  | { kind: 'streamData'; streamData: StreamData }
  | { kind: 'streamWindow'; streamWindow: StreamWindow };

/** Whether a frame body's first byte is the tag of a kind the hot codec reads. */
function isHotTag(first: number | undefined): boolean {
  return first === TAG.frameEvent || first === TAG.frameReply || first === TAG.frameStreamData
    || first === TAG.frameStreamWindow || first === TAG.framePing || first === TAG.framePong;
}

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
   * Decodes a frame body that is exactly one Event, Reply, StreamData, StreamWindow,
   * Ping or Pong in the layout this project writes. Anything else (other kinds,
   * unknown fields, wrong wire types, repeated oneof members, malformed bytes, a
   * size past 2^53 - 1) returns undefined, for protobufjs to decode or wire-check.ts to reject.
   */
  decode(body: Buffer): HotFrame | undefined {
    const first = body[0];
    if (!isHotTag(first)) return undefined;
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

  #frame(first: number | undefined): HotFrame {
    switch (first) {
      case TAG.frameEvent: return { kind: 'event', event: this.#event() };
      case TAG.frameReply: return { kind: 'reply', reply: this.#reply() };
      case TAG.frameStreamData: return { kind: 'streamData', streamData: this.#streamData() };
      case TAG.frameStreamWindow: return { kind: 'streamWindow', streamWindow: this.#streamWindow() };
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

  /**
   * A uint64 as a number, exact: at most 8 bytes (56 bits), and at most 2^53 - 1.
   * Anything longer or larger is left to protobufjs, and wire-check.ts refuses what
   * a number cannot hold.
   */
  #varint64(): number {
    const buf = this.#buf;
    const end = this.#end;
    let pos = this.#pos;
    let value = 0;
    for (let scale = 1, i = 0; i < 8; i++, scale *= 0x80) {
      if (pos >= end) throw NOT_HOT;
      const b = buf[pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (value > Number.MAX_SAFE_INTEGER) throw NOT_HOT;
        this.#pos = pos;
        return value;
      }
    }
    throw NOT_HOT;
  }

  #bool(): boolean {
    return this.#varint() !== 0;
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
    let streamed: true | undefined, size: number | undefined;
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
        case TAG.eventStreamed: streamed = this.#bool() || undefined; break;
        case TAG.eventSize: size = this.#varint64() || undefined; break;
        default: throw NOT_HOT;
      }
    }
    return { id, verb, noun, args, query, mimeType, data, timeoutMs, requestId, idempotencyKey, attempt, hold, streamed, size };
  }

  #reply(): ReplyFrame {
    let id = 0, returnCode = 0, kind = 0, status = 0;
    let mimeType = '';
    let data: Buffer = EMPTY;
    let replayed: true | undefined, streamed: true | undefined, size: number | undefined;
    while (this.#pos < this.#end) {
      switch (this.#buf[this.#pos++]) {
        case TAG.replyId: id = this.#varint(); break;
        case TAG.replyCode: returnCode = this.#varint(); break;
        case TAG.replyMime: mimeType = this.#memo(this.#mimeTypes); break;
        case TAG.replyData: data = this.#bytes(); break;
        case TAG.replyKind: kind = this.#varint(); break;
        case TAG.replyStatus: status = this.#varint(); break;
        case TAG.replyReplayed: replayed = this.#bool() || undefined; break;
        case TAG.replyStreamed: streamed = this.#bool() || undefined; break;
        case TAG.replySize: size = this.#varint64() || undefined; break;
        default: throw NOT_HOT;
      }
    }
    return { id, returnCode, mimeType, data, kind: kind as ReplyKind, status, replayed, streamed, size };
  }

  /** `data` is a view of the frame body, never a copy: a stream's bytes are read once, where they arrived. */
  #streamData(): StreamData {
    let id = 0, reply = false;
    let data: Buffer = EMPTY;
    while (this.#pos < this.#end) {
      switch (this.#buf[this.#pos++]) {
        case TAG.streamId: id = this.#varint(); break;
        case TAG.streamReply: reply = this.#bool(); break;
        case TAG.streamDataBytes: data = this.#bytes(); break;
        default: throw NOT_HOT;
      }
    }
    return { id, reply, data };
  }

  #streamWindow(): StreamWindow {
    let id = 0, bytes = 0;
    let reply = false, stop = false;
    while (this.#pos < this.#end) {
      switch (this.#buf[this.#pos++]) {
        case TAG.streamId: id = this.#varint(); break;
        case TAG.streamReply: reply = this.#bool(); break;
        case TAG.windowBytes: bytes = this.#varint(); break;
        case TAG.windowStop: stop = this.#bool(); break;
        default: throw NOT_HOT;
      }
    }
    return { id, reply, bytes, stop };
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
