import type { Readable } from 'node:stream';
import { asBuffer, BodyTooLargeError, CancelledError, ProtocolError, TooManyInFlightError, type Frame, type StreamData, type StreamEnd, type StreamRef, type StreamWindow } from '@restpipe/wire';
import { diagnostics, publish } from '../diagnostics.js';
import { StreamReceiver, type ReceiverOptions } from './stream-receiver.js';
import { describe, keyOf, MAX_END_MESSAGE_CHARS, MAX_STREAM_FRAME_BYTES } from './stream-ref.js';
import { StreamSender, type SenderOptions } from './stream-sender.js';

/** What the streams of a connection need of it. */
export interface StreamsLink {
  send(frame: Frame): void;
  /** The socket holds little enough that a stream's next frame may join it (small frames never wait behind more). */
  roomToSend(): boolean;
  /** The peer broke the stream protocol: the connection closes. */
  protocolError(error: Error): void;
  /** The largest body the peer's frames may carry (its max-event-bytes). */
  peerFrameBytes(): number;
  /** A stream ended, either way: a drain may be waiting for the last one. */
  ended(): void;
  /** For the diagnostics of a stream's end. */
  readonly owner: object;
  peerName(): string;
}

/** Keys of streams this side stopped lately, whose frames may still be on their way. */
const STOPPED_REMEMBERED = 4096;
/** The most credit a stream may be owed: a window update past it is the peer's error. */
const MAX_CREDIT = 0xffff_ffff;

/**
 * The streams of one connection (SPEC §12): those it sends, each with the credit
 * its receiver granted, served in turn (round-robin) while the socket has room,
 * and those it receives, each within its window. Frames about a stream this side
 * never had, or had ended, close the connection; those about one it stopped
 * lately are dropped (they were on their way).
 */
export class Streams {
  readonly #senders = new Map<number, StreamSender>();
  readonly #receivers = new Map<number, StreamReceiver>();
  /** Senders with bytes and credit, in the order they get their turn. */
  #ready: StreamSender[] = [];
  readonly #stopped = new Set<number>();
  #pumping = false;
  #closed = false;

  constructor(private readonly link: StreamsLink) {}

  /** Streams open either way. */
  get size(): number {
    return this.#senders.size + this.#receivers.size;
  }

  get receiving(): number {
    return this.#receivers.size;
  }

  /** Starts sending `source` as the stream `ref`; `onDone` hears how it ended. */
  send(ref: StreamRef, source: Readable, options: SenderOptions, onDone: (error: Error | undefined) => void): StreamSender {
    const key = keyOf(ref);
    this.#senders.get(key)?.lost(new ProtocolError(`${describe(ref)} replaced`));
    const sender = new StreamSender(ref, source, this.#senderLink(onDone, options.requestId ?? ''), options);
    if (!sender.finished) this.#senders.set(key, sender);
    if (this.#closed) sender.lost(new ProtocolError('the connection is closed'));
    return sender;
  }

  /**
   * A Readable for the stream `ref` the peer will send; or, past `maxStreams` streams
   * received at once or for a size announced over `options.maxBytes`, the error to answer
   * with (503, 413), the stream stopped so that its frames on their way are dropped.
   */
  receive(ref: StreamRef, options: ReceiverOptions, maxStreams: number): StreamReceiver | Error {
    const key = keyOf(ref);
    this.#stopped.delete(key);
    let refusal: Error | undefined;
    if (this.#receivers.size >= maxStreams) refusal = new TooManyInFlightError(`${maxStreams} streams already open on this connection (--max-streams)`);
    else if (options.maxBytes > 0 && options.size > options.maxBytes) refusal = new BodyTooLargeError(`streamed body of ${options.size} bytes exceeds --max-stream-bytes (${options.maxBytes})`);
    if (refusal) {
      this.refuse(ref);
      return refusal;
    }
    const receiver = new StreamReceiver(ref, this.#receiverLink(options.requestId ?? ''), options);
    this.#receivers.set(key, receiver);
    return receiver;
  }

  /** Streams this side sends now. */
  get sending(): number {
    return this.#senders.size;
  }

  /** A stream the peer would send that this side does not take: stopped at once, its frames on the way dropped. */
  refuse(ref: StreamRef): void {
    this.#receiving.stop(ref);
  }

  onData(frame: StreamData): void {
    const key = keyOf(frame);
    const receiver = this.#receivers.get(key);
    if (!receiver) {
      if (!this.#stopped.has(key)) this.link.protocolError(new ProtocolError(`data for ${describe(frame)}, which is not open`));
      return;
    }
    const broken = receiver.onData(own(asBuffer(frame.data)));
    if (broken) this.link.protocolError(new ProtocolError(broken));
  }

  onEnd(frame: StreamEnd): void {
    const key = keyOf(frame);
    const receiver = this.#receivers.get(key);
    if (!receiver) {
      if (!this.#stopped.delete(key)) this.link.protocolError(new ProtocolError(`end of ${describe(frame)}, which is not open`));
      return;
    }
    this.#receivers.delete(key);
    receiver.onEnd(frame.aborted, frame.message.slice(0, MAX_END_MESSAGE_CHARS));
  }

  /** Credit or stop for a stream we send; one we already ended may still hear of it. */
  onWindow(frame: StreamWindow): void {
    const sender = this.#senders.get(keyOf(frame));
    if (!sender) return;
    if (frame.stop) return sender.stop(new CancelledError(`the receiver stopped the ${describe(frame)}`));
    if (sender.credit + frame.bytes > MAX_CREDIT) {
      return this.link.protocolError(new ProtocolError(`window of the ${describe(frame)} grew past 2^32-1`));
    }
    sender.grant(frame.bytes);
  }

  /** The socket has room again: streams take their turns. */
  pump(): void {
    if (this.#pumping || this.#ready.length === 0) return;
    this.#pumping = true;
    try {
      while (this.#ready.length > 0 && this.link.roomToSend()) {
        const sender = this.#ready.shift()!;
        sender.inQueue = false;
        sender.sendOne();
        if (sender.canSend) this.#enqueue(sender);
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** The connection is gone: every open stream fails at once. */
  lostAll(error: Error): void {
    this.#closed = true;
    this.#ready = [];
    for (const sender of [...this.#senders.values()]) sender.lost(error);
    for (const receiver of [...this.#receivers.values()]) receiver.lost(error);
    this.#senders.clear();
    this.#receivers.clear();
    this.#stopped.clear();
  }

  #enqueue(sender: StreamSender): void {
    if (sender.inQueue) return;
    sender.inQueue = true;
    this.#ready.push(sender);
  }

  #senderLink(onDone: (error: Error | undefined) => void, requestId: string): ConstructorParameters<typeof StreamSender>[2] {
    const streams = this;
    return {
      ready: (sender) => {
        this.#enqueue(sender);
        // Not from inside the source's own 'data' call stack more than once: pump guards itself.
        this.pump();
      },
      data: (ref, chunk) => this.link.send({ kind: 'streamData', streamData: { id: ref.id, reply: ref.reply, data: chunk } }),
      end: (ref, aborted, message) => {
        const text = message.slice(0, MAX_END_MESSAGE_CHARS);
        if (!this.#closed) this.link.send({ kind: 'streamEnd', streamEnd: { id: ref.id, reply: ref.reply, aborted, message: text } });
      },
      done: (sender, error) => {
        const key = keyOf(sender.ref);
        if (this.#senders.get(key) === sender) this.#senders.delete(key);
        onDone(error);
        const outcome = !error ? 'end' : error instanceof CancelledError && !this.#closed ? 'stopped' : 'aborted';
        this.#ended(sender.ref, 'sent', requestId, sender.bytes, sender.startedAt, outcome, outcome === 'aborted' ? error : undefined);
      },
      get frameBytes() {
        // 0: the peer did not say (proto3's default), as everywhere else no limit of its own.
        return Math.min(MAX_STREAM_FRAME_BYTES, streams.link.peerFrameBytes() || MAX_STREAM_FRAME_BYTES);
      },
    };
  }

  #receiverLink(requestId: string): ConstructorParameters<typeof StreamReceiver>[1] {
    return { ...this.#receiving, done: (receiver) => this.#received(receiver, requestId) };
  }

  #received(receiver: StreamReceiver, requestId: string): void {
    const key = keyOf(receiver.ref);
    if (this.#receivers.get(key) === receiver) this.#receivers.delete(key);
    const { outcome, error } = receiver.outcome ?? { outcome: 'aborted', error: undefined };
    this.#ended(receiver.ref, 'received', requestId, receiver.bytes, receiver.startedAt, outcome, error);
  }

  /** A stream is done: a drain may be waiting for it, and its end is told (one log line, a metric). */
  #ended(ref: StreamRef, direction: 'sent' | 'received', requestId: string, bytes: number, startedAt: number, outcome: 'end' | 'stopped' | 'aborted', error: Error | undefined): void {
    this.link.ended();
    if (!diagnostics.stream.hasSubscribers) return;
    publish(diagnostics.stream, {
      owner: this.link.owner, peer: this.link.peerName(), requestId, direction, body: ref.reply ? 'reply' : 'request',
      bytes, ms: performance.now() - startedAt, outcome, code: error && codeOf(error), reason: error?.message.slice(0, 200),
    });
  }

  readonly #receiving: Omit<ConstructorParameters<typeof StreamReceiver>[1], 'done'> = {
    grant: (ref, bytes) => {
      if (!this.#closed) this.link.send({ kind: 'streamWindow', streamWindow: { id: ref.id, reply: ref.reply, bytes, stop: false } });
    },
    stop: (ref) => {
      if (this.#closed) return;
      const key = keyOf(ref);
      this.#remember(key);
      this.link.send({ kind: 'streamWindow', streamWindow: { id: ref.id, reply: ref.reply, bytes: 0, stop: true } });
    },
  };

  #remember(key: number): void {
    if (this.#stopped.size >= STOPPED_REMEMBERED) this.#stopped.delete(this.#stopped.values().next().value!);
    this.#stopped.add(key);
  }
}

function codeOf(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'RP_ERR_UNKNOWN';
}

/** Below this, a frame's data is copied out of the chunk it was read in, rather than keep all of it alive. */
const COPY_BELOW_BYTES = 4096;

function own(data: Buffer): Buffer {
  return data.length < COPY_BELOW_BYTES && data.buffer.byteLength > data.length * 2 ? Buffer.from(data) : data;
}
