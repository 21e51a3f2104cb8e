import { asBuffer, LENGTH_PREFIX_BYTES, type EventFrame, type Frame, type ReplyFrame } from './frame-types.js';
import { heartbeatBytes, HotWriter, wrappedBytes } from './hot-codec.js';
import { FrameType } from './schema.js';

/** A body from this size up goes out as a chunk of its own rather than being copied. */
export const SEPARATE_DATA_BYTES = 16 * 1024;

/** Batches up to this many frames keep their slots for the next batch. */
const KEPT_SLOTS = 1024;

/** The message of a Ping or a Pong. */
interface Heartbeat {
  seq: number;
}

/** What a queued item is. */
const Item = { EVENT: 0, REPLY: 1, ENCODED: 2, PING: 3, PONG: 4 } as const;
type Item = (typeof Item)[keyof typeof Item];

/**
 * Collects the frames of one batch and encodes them, prefixes included, into a
 * single buffer allocated at its exact size: one write and one TLS record for a
 * burst of small frames. Large bodies are not copied; they become chunks of
 * their own between the pieces of that buffer. Pure: no I/O, no timers, and no
 * state shared with another FrameWriter.
 */
export class FrameWriter {
  /** Measures and writes this writer's frames, with memos of its verbs and media types. */
  readonly #w = new HotWriter();
  /**
   * The batch, in three parallel arrays reused from batch to batch: emptying an
   * array frees its storage, and a connection sends a batch every few frames.
   * Slots past #count are stale; taken items are cleared so that bodies are not kept.
   */
  readonly #items: Array<EventFrame | ReplyFrame | Uint8Array | Heartbeat | undefined> = [];
  readonly #kinds: Item[] = [];
  /** Message bytes (hot frames) or body bytes (pre-encoded frames). */
  readonly #sizes: number[] = [];
  #count = 0;
  /** Bytes the batch puts in its shared buffer. */
  #inlineBytes = 0;

  /** Frames appended and not yet taken. */
  get queued(): number {
    return this.#count;
  }

  append(frame: Frame): void {
    if (frame.kind === 'event') this.#appendHot(Item.EVENT, frame.event, this.#w.eventBytes(frame.event));
    else if (frame.kind === 'reply') this.#appendHot(Item.REPLY, frame.reply, this.#w.replyBytes(frame.reply));
    else if (frame.kind === 'ping') this.#appendHeartbeat(Item.PING, frame.ping);
    else if (frame.kind === 'pong') this.#appendHeartbeat(Item.PONG, frame.pong);
    else this.#appendEncoded(FrameType.encode(frame as unknown as Record<string, unknown>).finish());
  }

  #appendHot(kind: Item, message: EventFrame | ReplyFrame, messageBytes: number): void {
    this.#push(kind, message, messageBytes);
    const dataBytes = message.data.length;
    this.#inlineBytes += LENGTH_PREFIX_BYTES + wrappedBytes(messageBytes) - (dataBytes >= SEPARATE_DATA_BYTES ? dataBytes : 0);
  }

  #appendHeartbeat(kind: Item, message: Heartbeat): void {
    const messageBytes = heartbeatBytes(message.seq);
    this.#push(kind, message, messageBytes);
    this.#inlineBytes += LENGTH_PREFIX_BYTES + wrappedBytes(messageBytes);
  }

  #appendEncoded(body: Uint8Array): void {
    this.#push(Item.ENCODED, body, body.length);
    this.#inlineBytes += LENGTH_PREFIX_BYTES + body.length;
  }

  #push(kind: Item, item: EventFrame | ReplyFrame | Uint8Array | Heartbeat, size: number): void {
    const at = this.#count++;
    this.#items[at] = item;
    this.#kinds[at] = kind;
    this.#sizes[at] = size;
  }

  /** Encodes everything appended since the last take: chunks to write, in order. */
  take(): Buffer[] {
    const count = this.#count;
    if (count === 0) return [];
    const items = this.#items;
    const buf = Buffer.allocUnsafe(this.#inlineBytes);
    const w = this.#w;
    w.reset(buf, 0);
    const chunks: Buffer[] = [];
    let chunkStart = 0;
    for (let i = 0; i < count; i++) {
      const prefixAt = w.pos;
      w.pos += LENGTH_PREFIX_BYTES;
      const separate = this.#writeItem(this.#kinds[i]!, items[i]!, this.#sizes[i]!);
      items[i] = undefined;
      buf.writeUInt32BE(w.pos - prefixAt - LENGTH_PREFIX_BYTES + (separate?.length ?? 0), prefixAt);
      if (separate) {
        chunks.push(buf.subarray(chunkStart, w.pos), separate);
        chunkStart = w.pos;
      }
    }
    if (w.pos !== this.#inlineBytes) throw new Error(`FrameWriter: measured ${this.#inlineBytes} bytes, wrote ${w.pos}`);
    if (chunkStart === 0) chunks.push(buf); // the usual case: no view needed
    else if (w.pos > chunkStart) chunks.push(buf.subarray(chunkStart, w.pos));
    this.#clear();
    return chunks;
  }

  /** Writes one frame's body; returns its data when that goes out as a chunk of its own. */
  #writeItem(kind: Item, item: EventFrame | ReplyFrame | Uint8Array | Heartbeat, size: number): Buffer | undefined {
    const w = this.#w;
    if (kind === Item.ENCODED) {
      w.buf.set(item as Uint8Array, w.pos);
      w.pos += size;
      return undefined;
    }
    if (kind === Item.PING || kind === Item.PONG) {
      w.heartbeat(kind === Item.PONG, (item as Heartbeat).seq, size);
      return undefined;
    }
    const message = item as EventFrame | ReplyFrame;
    if (kind === Item.EVENT) w.event(message as EventFrame, size);
    else w.reply(message as ReplyFrame, size);
    const data = message.data;
    if (data.length >= SEPARATE_DATA_BYTES) return asBuffer(data);
    if (data.length > 0) {
      w.buf.set(data, w.pos);
      w.pos += data.length;
    }
    return undefined;
  }

  #clear(): void {
    if (this.#count > KEPT_SLOTS) {
      // A rare huge batch: give its storage back rather than keep it per connection.
      this.#items.length = 0;
      this.#kinds.length = 0;
      this.#sizes.length = 0;
    }
    this.#count = 0;
    this.#inlineBytes = 0;
    this.#w.reset(EMPTY, 0); // keep no batch buffer alive between batches
  }
}

const EMPTY = Buffer.alloc(0);
