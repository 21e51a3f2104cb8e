import type { Readable } from 'node:stream';
import {
  CancelledError,
  PeerDisconnectedError,
  ProtocolError,
  StreamAbortedError,
  StreamReceiver,
  StreamSender,
  type ReceiverOptions,
  type SenderLink,
  type SenderOptions,
} from '@restpipe/core';
import { dataHeaders, endHeaders, grantHeaders, MAX_END_MESSAGE_CHARS, stopHeaders, type RelayMessage } from './relay-messages.js';
import type { RelayWire } from './relay-wire.js';

/** What an open stream needs of the table that keeps it. */
export interface EntryHost {
  readonly wire: RelayWire;
  /** The stream ended, either way: it leaves the table (if it is still the one under its id). */
  closed(entry: Reading | Sending): void;
}

/** The most credit a stream may be owed: a grant past it is the sender's error. */
const MAX_CREDIT = 0xffff_ffff;

/** A stream this node reads from node `peer`: its messages in order, as a StreamReceiver. */
export class Reading {
  readonly kind = 'reading';
  readonly receiver: StreamReceiver;
  seq = 0;

  constructor(
    readonly id: string,
    readonly peer: string,
    private readonly host: EntryHost,
    ref: number,
    reply: boolean,
    options: ReceiverOptions,
  ) {
    const { wire } = host;
    this.receiver = new StreamReceiver({ id: ref, reply }, {
      grant: (_ref, bytes) => wire.publish(peer, id, 'w', grantHeaders(bytes)),
      stop: () => {
        wire.ended(id);
        wire.publish(peer, id, 'w', stopHeaders());
      },
      done: () => host.closed(this),
    }, options);
  }

  /** Data or end, numbered: a gap (NATS dropped a message) or a broken window aborts the stream, never cuts it clean. */
  take(message: RelayMessage): void {
    if (message.kind !== 'data' && message.kind !== 'end') return;
    const expected = message.kind === 'data' ? this.seq + 1 : this.seq;
    if (message.seq !== expected) {
      this.host.wire.drop(`message ${message.seq} where ${expected} was due: part of the stream was lost on the way`, this.id);
      this.receiver.destroy(new StreamAbortedError(`part of a stream relayed from node ${this.peer} was lost on the way`));
      return;
    }
    if (message.kind === 'end') return this.end(message.aborted, message.message);
    this.seq = message.seq;
    const broken = this.receiver.onData(message.data);
    if (broken) {
      this.host.wire.drop(broken, this.id);
      this.receiver.destroy(new ProtocolError(`node ${this.peer} broke the stream's window: ${broken}`));
    }
  }

  end(aborted: boolean, message: string): void {
    this.host.closed(this);
    this.host.wire.ended(this.id);
    this.receiver.onEnd(aborted, message);
  }
}

/** A stream this node sends to node `peer`: made at the reader's first grant when only offered (`offered`). */
export class Sending {
  readonly kind = 'sending';
  sender: StreamSender | undefined;
  seq = 0;

  constructor(
    readonly id: string,
    readonly peer: string,
    private readonly host: EntryHost,
    readonly source: Readable,
    readonly offered: boolean,
    private readonly onDone: (error: Error | undefined) => void,
    private readonly options: Omit<SenderOptions, 'window'>,
  ) {}

  start(ref: number, window: number): void {
    this.sender = new StreamSender({ id: ref, reply: !this.offered }, this.source, this.#link(), { ...this.options, window });
  }

  /** Credit or stop from the reader; the first credit of an offer starts it. */
  take(message: RelayMessage, ref: () => number): void {
    if (message.kind === 'stop') {
      if (this.sender) return this.sender.stop(new CancelledError(`the reader on node ${this.peer} stopped the stream`));
      return this.#end(new CancelledError(`the reader on node ${this.peer} stopped the stream before it started`));
    }
    if (message.kind !== 'grant') return;
    if (!this.sender) {
      if (!this.offered) return;
      if (!this.source.destroyed) return this.start(ref(), message.bytes);
      // The body failed (its caller left) while its reader was being found: the reader hears it aborted.
      const error = this.source.errored ?? new StreamAbortedError('the body was gone before it could be sent');
      this.host.wire.publish(this.peer, this.id, 'd', endHeaders(0, true), Buffer.from(error.message.slice(0, MAX_END_MESSAGE_CHARS)));
      return this.#end(error);
    }
    if (this.sender.credit + message.bytes > MAX_CREDIT) {
      this.host.wire.drop('a grant past 2^32-1 bytes of credit', this.id);
      return this.sender.abort(new ProtocolError(`node ${this.peer} granted a stream more than 2^32-1 bytes of credit`));
    }
    this.sender.grant(message.bytes);
  }

  /** Ends it early, told to the reader as aborted if it started; an offer never started just drops its source. */
  abort(error: Error): void {
    if (this.sender) this.sender.abort(error);
    else this.#end(error);
  }

  /** The link or the reader's node is gone: nothing is told. */
  lost(error: Error): void {
    if (this.sender) this.sender.lost(error);
    else this.#end(error);
  }

  #end(error: Error): void {
    this.host.closed(this);
    this.host.wire.ended(this.id);
    this.source.destroy();
    this.onDone(error);
  }

  #link(): SenderLink {
    const { wire } = this.host;
    return {
      ready: (sender) => wire.ready(sender),
      data: (_ref, chunk) => {
        this.seq += 1;
        // A frame that cannot go loses the stream, after the sender's own call (never inside it).
        if (!wire.publish(this.peer, this.id, 'd', dataHeaders(this.seq), chunk)) {
          queueMicrotask(() => this.sender?.lost(new PeerDisconnectedError(`the cluster could not carry a stream to node ${this.peer}`)));
        }
      },
      end: (_ref, aborted, message) => {
        const reason = aborted ? Buffer.from(message.slice(0, MAX_END_MESSAGE_CHARS)) : undefined;
        wire.publish(this.peer, this.id, 'd', endHeaders(this.seq, aborted), reason);
      },
      done: (_sender, error) => {
        this.host.closed(this);
        wire.ended(this.id);
        this.onDone(error);
      },
      get frameBytes() {
        return wire.frameBytes;
      },
    };
  }
}
