import type { Readable } from 'node:stream';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { CancelledError, PeerDisconnectedError, ProtocolError, TooManyInFlightError, type Logger, type StreamReceiver } from '@restpipe/core';
import { EarlyReply } from './early-reply.js';
import { Reading, Sending, type EntryHost } from './relay-entries.js';
import { endHeaders, grantHeaders, parseRelayMessage, stopHeaders, streamAddress, type RelayMessage } from './relay-messages.js';
import { RelayWire } from './relay-wire.js';
import { subscribeSafely } from './safe-subscribe.js';
import { streamsOf } from './subjects.js';

export interface RelayOptions {
  readonly owner: object;
  /** This node's id: its streams come on `rp.v1.stream.SELF.>`. */
  readonly self: string;
  readonly logger: Logger;
  connection(): NatsConnection | undefined;
  /** `--stream-window-bytes`: what this node grants each stream it reads. */
  readonly windowBytes: number;
  /** `--max-stream-bytes`; 0: no limit. */
  readonly maxBytes: number;
  /** `--max-streams`: relayed streams this node reads at once. */
  readonly maxStreams: number;
}

export interface SendOptions {
  /** Aborted after this long with no data moved (the request's deadline). */
  readonly idleMs: number;
  readonly onActivity?: (() => void) | undefined;
  readonly onDone?: ((error: Error | undefined) => void) | undefined;
}

type Entry = Reading | EarlyReply | Sending;

/** What the far end of a stream lost with the NATS link is told once it is back: `seq` -1 a stop, else an aborted end. */
interface Notice {
  readonly peer: string;
  readonly id: string;
  readonly seq: number;
}

/** Notices kept while the link is down, at most. */
const MAX_NOTICES = 4096;

/**
 * The streams this node relays through NATS (SPEC §12 across §11), by id: the bodies it
 * reads from other nodes (each within `--stream-window-bytes`, granted as the reader takes
 * them) and those it sends (each within the credit its reader granted), served in turn. Every
 * hop keeps its flow control: a slow reader stops its grants, which stops the sender, which
 * stops reading its own source. A node lost or NATS gone ends every stream with it.
 */
export class RelayStreams {
  readonly #options: RelayOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #host: EntryHost;
  #reading = 0;
  #refs = 0;
  #notices: Notice[] = [];

  constructor(options: RelayOptions) {
    this.#options = options;
    this.#host = {
      wire: new RelayWire(options.owner, options.logger, options.connection),
      closed: (entry) => {
        if (this.#entries.get(entry.id) !== entry) return;
        this.#entries.delete(entry.id);
        if (entry.kind === 'reading') this.#reading -= 1;
      },
    };
  }

  /** What this node grants each stream it reads. */
  get windowBytes(): number {
    return this.#options.windowBytes;
  }

  /** A stream of this id is open here (ids other nodes choose are checked against it). */
  has(id: string): boolean {
    return this.#entries.has(id);
  }

  /** On a new NATS connection: this node's one stream subscription. */
  subscribe(nc: NatsConnection): void {
    subscribeSafely(nc, this.#options.owner, streamsOf(this.#options.self), (msg) => this.#onMessage(msg));
  }

  // Reading.

  /** A body node `peer` will send as stream `id`; the sender starts when `open(id)` grants the window. */
  receive(id: string, peer: string, idleMs: number, size: number | undefined, reply = false): StreamReceiver {
    if (this.#entries.has(id)) throw new ProtocolError('a forwarded request names a stream id already in use here');
    if (this.#reading >= this.#options.maxStreams) {
      throw new TooManyInFlightError(`${this.#options.maxStreams} relayed streams already open on node ${this.#options.self} (--max-streams)`);
    }
    const { windowBytes: window, maxBytes } = this.#options;
    const entry = new Reading(id, peer, this.#host, ++this.#refs, reply, { window, maxBytes, idleMs, size: size ?? 0 });
    // A reader that left without listening for errors never turns a lost stream into a crash.
    entry.receiver.on('error', ignore);
    this.#entries.set(id, entry);
    this.#reading += 1;
    return entry.receiver;
  }

  /** The sender of stream `id` may start: its first window. */
  open(id: string): void {
    const entry = this.#entries.get(id);
    if (entry?.kind === 'reading' && !entry.receiver.destroyed) this.#host.wire.publish(entry.peer, id, 'w', grantHeaders(this.#options.windowBytes));
  }

  /** Stream `id` will not be read after all, and its sender was never told to start. */
  discard(id: string): void {
    const entry = this.#entries.get(id);
    if (entry?.kind === 'reading') entry.receiver.lost(new CancelledError('the relayed stream was not taken'));
  }

  /** A reply stream node `peer` may send as `id`; what comes before `accept` waits, within the window. */
  expect(id: string, peer: string): void {
    this.#entries.set(id, new EarlyReply(peer, this.#options.windowBytes));
  }

  /** The reply came, not streamed: nothing will come for `id`. */
  forget(id: string): void {
    if (this.#entries.get(id)?.kind === 'awaiting') this.#entries.delete(id);
  }

  /** The reply said streamed: the Readable of stream `id`, with what came before it. */
  accept(id: string, idleMs: number, size: number | undefined): StreamReceiver {
    const early = this.#entries.get(id);
    if (early?.kind !== 'awaiting') throw new PeerDisconnectedError('the node that streams the reply was lost before it started');
    this.#entries.delete(id);
    const refusal = early.broken ?? (this.#reading >= this.#options.maxStreams ? 'full' : undefined);
    if (refusal) {
      this.#host.wire.ended(id);
      this.#host.wire.publish(early.peer, id, 'w', stopHeaders());
      if (refusal !== 'full') throw new ProtocolError(refusal);
      throw new TooManyInFlightError(`${this.#options.maxStreams} relayed streams already open on node ${this.#options.self} (--max-streams)`);
    }
    const receiver = this.receive(id, early.peer, idleMs, size, true);
    const entry = this.#entries.get(id) as Reading;
    entry.seq = early.seq;
    for (const chunk of early.chunks) receiver.onData(chunk);
    if (early.end) entry.end(early.end.aborted, early.end.message);
    return receiver;
  }

  // Sending.

  /** Offers `source` as stream `id` to node `peer`: sent from the reader's first grant on. */
  offer(id: string, peer: string, source: Readable, options: SendOptions): void {
    this.#entries.set(id, this.#sending(id, peer, source, true, options));
  }

  /** Sends `source` as stream `id` to node `peer` now, within the window it announced. */
  send(id: string, peer: string, source: Readable, window: number, options: SendOptions): void {
    const entry = this.#sending(id, peer, source, false, options);
    this.#entries.set(id, entry);
    entry.start(++this.#refs, window);
  }

  /** The offer of `id` is taken back before its reader started it: the source stays as it was (to go elsewhere). */
  withdraw(id: string): void {
    const entry = this.#entries.get(id);
    if (entry?.kind === 'sending' && !entry.sender) this.#entries.delete(id);
  }

  /** This side ends stream `id` early: its reader hears it aborted, and its source is destroyed. */
  abort(id: string, error: Error): void {
    const entry = this.#entries.get(id);
    if (entry?.kind === 'sending') entry.abort(error);
  }

  #sending(id: string, peer: string, source: Readable, offered: boolean, options: SendOptions): Sending {
    const { idleMs, onActivity, onDone = ignore } = options;
    return new Sending(id, peer, this.#host, source, offered, onDone, { maxBytes: this.#options.maxBytes, idleMs, onActivity });
  }

  // Losses.

  /** Node `node` is lost: every stream with it ends at once. */
  lostNode(node: string): void {
    this.#lose((entry) => entry.peer === node, () => new PeerDisconnectedError(`node ${node} was lost mid-stream`), false);
  }

  /**
   * The NATS connection is lost (or this node leaves): every stream ends at once. Their far
   * ends are told now if the link still carries it, else when it is back (`reconnected`):
   * they never wait out their deadlines for a node that is still there.
   */
  lostAll(): void {
    this.#lose(() => true, () => new PeerDisconnectedError('the cluster connection was lost mid-stream'), true);
  }

  /** The link is up again: the far ends of the streams lost while it was down hear that they ended. */
  reconnected(): void {
    const notices = this.#notices;
    this.#notices = [];
    for (const notice of notices) this.#tell(notice, false);
  }

  #lose(which: (entry: Entry) => boolean, error: () => Error, tell: boolean): void {
    for (const [id, entry] of [...this.#entries]) {
      if (!which(entry)) continue;
      if (entry.kind === 'awaiting') {
        this.#entries.delete(id);
        continue;
      }
      if (tell && (entry.kind === 'reading' || entry.sender)) this.#tell({ peer: entry.peer, id, seq: entry.kind === 'sending' ? entry.seq : -1 }, true);
      if (entry.kind === 'reading') entry.receiver.lost(error());
      else entry.lost(error());
    }
  }

  /** Stops a stream this node read (seq -1), or ends one it sent aborted; kept for later when it cannot go now. */
  #tell(notice: Notice, keep: boolean): void {
    const { wire } = this.#host;
    const sent = notice.seq < 0
      ? wire.publish(notice.peer, notice.id, 'w', stopHeaders())
      : wire.publish(notice.peer, notice.id, 'd', endHeaders(notice.seq, true), Buffer.from('the other node lost its cluster connection mid-stream'));
    if (!sent && keep && this.#notices.length < MAX_NOTICES) this.#notices.push(notice);
  }

  // Messages.

  #onMessage(msg: Msg): void {
    const { wire } = this.#host;
    const address = streamAddress(msg.subject);
    if (!address) return wire.drop('a subject that names no stream', msg.subject);
    let message: RelayMessage;
    try {
      message = parseRelayMessage(address.kind, msg);
    } catch (error) {
      return wire.drop((error as Error).message, address.id);
    }
    const entry = this.#entries.get(address.id);
    if (!entry) {
      if (!wire.endedLately(address.id)) wire.drop('a stream this node does not have', address.id);
      return;
    }
    if (address.kind === 'w' && entry.kind === 'sending') return entry.take(message, () => ++this.#refs);
    if (address.kind === 'd' && entry.kind !== 'sending') return entry.take(message);
    wire.drop(`a ${address.kind === 'd' ? 'data' : 'window'} message for a stream this node ${entry.kind === 'sending' ? 'sends' : 'reads'}`, address.id);
  }
}

function ignore(): void {}
