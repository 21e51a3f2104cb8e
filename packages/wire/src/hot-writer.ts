/**
 * The writing half of the hot codec (layout in hot-layout.ts): measures frames,
 * then writes them into a buffer sized beforehand. No mutable state at module
 * level: each FrameWriter owns a HotWriter, with its own cursor and its own memos
 * of the verbs and media types its connection repeats.
 */
import type { EventFrame, ReplyFrame, StreamData, StreamWindow } from './frame-types.js';
import {
  attemptOf, boolField, dataField, delimited, EMPTY, holdOf, keyOf, queryParamBytes, repeatedStringsBytes, sizeOf, stringField, TAG,
  uint64Field, uintField, utf8Bytes,
} from './hot-layout.js';

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
    let size = uintField(e.id) + memoField(this.#verbs, e.verb) + repeatedStringsBytes(e.noun) + repeatedStringsBytes(e.args);
    for (const param of e.query) size += delimited(queryParamBytes(param));
    size += memoField(this.#mimeTypes, e.mimeType) + uintField(e.timeoutMs) + stringField(e.requestId);
    size += stringField(keyOf(e)) + uintField(attemptOf(e)) + stringField(holdOf(e));
    return size + boolField(e.streamed) + uint64Field(sizeOf(e)) + dataField(e.data);
  }

  /** Bytes of a Reply message, data included. */
  replyBytes(r: ReplyFrame): number {
    return uintField(r.id) + uintField(r.returnCode) + memoField(this.#mimeTypes, r.mimeType) + uintField(r.kind) + uintField(r.status)
      + boolField(r.replayed) + boolField(r.streamed) + uint64Field(sizeOf(r)) + dataField(r.data);
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

  /** A uint64 held in a number: the bits past 32 by arithmetic, which `>>>` cannot do. */
  varint64(value: number): void {
    const buf = this.buf;
    while (value > 0xffff_ffff) {
      buf[this.pos++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.varint(value);
  }

  uintField(tag: number, value: number): void {
    if (value === 0) return;
    this.buf[this.pos++] = tag;
    this.varint(value);
  }

  uint64Field(tag: number, value: number): void {
    if (value === 0) return;
    this.buf[this.pos++] = tag;
    this.varint64(value);
  }

  boolField(tag: number, value: boolean | undefined): void {
    if (value !== true) return;
    this.buf[this.pos++] = tag;
    this.buf[this.pos++] = 1;
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

  /** The header of a body field, when there is a body; the body is the caller's. */
  dataHeader(tag: number, data: Uint8Array): void {
    if (data.length > 0) this.bytesHeader(tag, data.length);
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
    this.boolField(TAG.eventStreamed, e.streamed);
    this.uint64Field(TAG.eventSize, sizeOf(e));
    this.dataHeader(TAG.eventData, e.data);
  }

  reply(r: ReplyFrame, messageBytes: number): void {
    this.bytesHeader(TAG.frameReply, messageBytes);
    this.uintField(TAG.replyId, r.id);
    this.uintField(TAG.replyCode, r.returnCode);
    this.memoField(TAG.replyMime, this.#mimeTypes, r.mimeType);
    this.uintField(TAG.replyKind, r.kind);
    this.uintField(TAG.replyStatus, r.status);
    this.boolField(TAG.replyReplayed, r.replayed);
    this.boolField(TAG.replyStreamed, r.streamed);
    this.uint64Field(TAG.replySize, sizeOf(r));
    this.dataHeader(TAG.replyData, r.data);
  }

  /** A StreamData up to its data, which is the caller's: copied after, or a chunk of its own. */
  streamData(d: StreamData, messageBytes: number): void {
    this.bytesHeader(TAG.frameStreamData, messageBytes);
    this.uintField(TAG.streamId, d.id);
    this.boolField(TAG.streamReply, d.reply);
    this.dataHeader(TAG.streamDataBytes, d.data);
  }

  streamWindow(w: StreamWindow, messageBytes: number): void {
    this.bytesHeader(TAG.frameStreamWindow, messageBytes);
    this.uintField(TAG.streamId, w.id);
    this.boolField(TAG.streamReply, w.reply);
    this.uintField(TAG.windowBytes, w.bytes);
    this.boolField(TAG.windowStop, w.stop);
  }

  /** A Ping (`pong` false) or a Pong. */
  heartbeat(pong: boolean, seq: number, messageBytes: number): void {
    this.bytesHeader(pong ? TAG.framePong : TAG.framePing, messageBytes);
    this.uintField(TAG.seq, seq);
  }
}
