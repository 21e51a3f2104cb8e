import { asBuffer, LENGTH_PREFIX_BYTES, type EventFrame, type Frame, type ReplyFrame, type StreamData, type StreamWindow } from './frame-types.js';
import { heartbeatBytes, streamDataBytes, streamWindowBytes, wrappedBytes } from './hot-layout.js';
import { HotWriter } from './hot-writer.js';
import { FrameType } from './schema.js';

/** A body from this size up goes out as a chunk of its own rather than being copied. */
export const SEPARATE_DATA_BYTES = 16 * 1024;

/** Batches up to this many frames keep their slots for the next batch. */
const KEPT_SLOTS = 1024;

/** The message of a Ping or a Pong. */
interface Heartbeat {
  seq: number;
}

/** A message whose body goes last: copied into the batch buffer, or sent as a chunk of its own. */
type Carrier = EventFrame | ReplyFrame | StreamData;

/** A message written whole into the batch buffer. */
type Small = Heartbeat | StreamWindow;

/** What a queued item is. */
const Item = { EVENT: 0, REPLY: 1, ENCODED: 2, PING: 3, PONG: 4, STREAM_DATA: 5, STREAM_WINDOW: 6 } as const;
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
  readonly #items: Array<Carrier | Small | Uint8Array | undefined> = [];
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
    else if (frame.kind === 'streamData') this.#appendHot(Item.STREAM_DATA, frame.streamData, streamDataBytes(frame.streamData));
    else if (frame.kind === 'streamWindow') this.#appendSmall(Item.STREAM_WINDOW, frame.streamWindow, streamWindowBytes(frame.streamWindow));
    else if (frame.kind === 'ping') this.#appendSmall(Item.PING, frame.ping, heartbeatBytes(frame.ping.seq));
    else if (frame.kind === 'pong') this.#appendSmall(Item.PONG, frame.pong, heartbeatBytes(frame.pong.seq));
    else this.#appendEncoded(FrameType.encode(frame as unknown as Record<string, unknown>).finish());
  }

  #appendHot(kind: Item, message: Carrier, messageBytes: number): void {
    this.#push(kind, message, messageBytes);
    const dataBytes = message.data.length;
    this.#inlineBytes += LENGTH_PREFIX_BYTES + wrappedBytes(messageBytes) - (dataBytes >= SEPARATE_DATA_BYTES ? dataBytes : 0);
  }

  #appendSmall(kind: Item, message: Small, messageBytes: number): void {
    this.#push(kind, message, messageBytes);
    this.#inlineBytes += LENGTH_PREFIX_BYTES + wrappedBytes(messageBytes);
  }

  #appendEncoded(body: Uint8Array): void {
    this.#push(Item.ENCODED, body, body.length);
    this.#inlineBytes += LENGTH_PREFIX_BYTES + body.length;
  }

  #push(kind: Item, item: Carrier | Small | Uint8Array, size: number): void {
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
  #writeItem(kind: Item, item: Carrier | Small | Uint8Array, size: number): Buffer | undefined {
    const w = this.#w;
    switch (kind) {
      case Item.ENCODED:
        w.buf.set(item as Uint8Array, w.pos);
        w.pos += size;
        return undefined;
      case Item.STREAM_WINDOW: w.streamWindow(item as StreamWindow, size); return undefined;
      case Item.PING: w.heartbeat(false, (item as Heartbeat).seq, size); return undefined;
      case Item.PONG: w.heartbeat(true, (item as Heartbeat).seq, size); return undefined;
      case Item.EVENT: w.event(item as EventFrame, size); break;
      case Item.REPLY: w.reply(item as ReplyFrame, size); break;
      case Item.STREAM_DATA: w.streamData(item as StreamData, size); break;
    }
    const data = (item as Carrier).data;
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
