import { EventEmitter } from 'node:events';
import {
  GoawayError,
  NotEnabledError,
  PeerDisconnectedError,
  PeerUnavailableError,
  ProtocolError,
  type Frame,
  type Hello,
  type HelloAck,
  type Limits,
  type ReplyFrame,
} from '@restpipe/wire';
import type { ConnectionEvents, ConnectionInit, ConnectionStats, ConnectionView } from './connection-types.js';
import { diagnostics, publish } from './diagnostics.js';
import type { EventHandler, Peer } from './event-handler.js';
import { FrameReader } from './frame-reader.js';
import type { IdempotencyGate } from './durable/idempotency-gate.js';
import { isHoldId } from './holds/held-reply.js';
import type { HoldPort } from './holds/hold-port.js';
import type { HandlerEnv } from './handle-event.js';
import { HelloExchange } from './hello-exchange.js';
import { IdleWait } from './idle-wait.js';
import { InboundEvents } from './inbound-events.js';
import { Liveness } from './liveness.js';
import type { Logger } from './logger.js';
import { peerReason, peerText } from './peer-text.js';
import { maxFrameBytes, type ResolvedPipeOptions } from './options.js';
import { OutboundRequests } from './outbound-requests.js';
import { Outbox } from './outbox.js';
import type { PipeRequest, PipeResponse } from './request.js';
import type { Role } from './role.js';
import { CloseReason, ConnectionState, isAllowedTransition } from './state.js';
import type { Transport } from './transport.js';
import { Streams } from './streams/streams.js';

export type { ConnectionEvents, ConnectionInit, ConnectionStats } from './connection-types.js';
export type { Role } from './role.js';

/**
 * A stream's next frame joins the socket only while it holds less than this: a small
 * frame (a `GET /server/time`) then waits behind this much bulk at most (SPEC §12).
 */
const STREAM_LOW_WATER_BYTES = 256 * 1024;
/** After our Goaway, a peer that never reads is not allowed to hold the socket longer than this. */
const GOAWAY_LINGER_MS = 1_000;

/**
 * One mutual-TLS connection after the TLS handshake. It routes frames to the
 * collaborators that own each concern and ends the connection, orderly or not:
 *
 * - HelloExchange: the first frame each way;
 * - OutboundRequests: our requests, their deadlines, cancel, the queue behind a full socket;
 * - InboundEvents: the peer's events, the handler limiter, deadlines, the byte budget;
 * - FrameReader: bytes to frames, and reading paused while InboundEvents is full;
 * - Outbox: write batching; Liveness: heartbeats and the slow-consumer rule.
 *
 * States: HANDSHAKING -> OPEN -> DRAINING -> CLOSING -> CLOSED, each change
 * through #transitionTo (see state.ts for the allowed ones).
 */
export class PipeConnection extends EventEmitter<ConnectionEvents> {
  readonly role: Role;
  readonly generation: number;
  peer: Peer;

  #state: ConnectionState = ConnectionState.HANDSHAKING;
  #closeReason: CloseReason | undefined;
  #openedAt: number | undefined;
  #peerLimits: Limits | undefined;
  #liveness: Liveness | undefined;
  #handlerEnv: HandlerEnv | undefined;
  readonly #idempotency: IdempotencyGate | undefined;
  readonly #holds: HoldPort | undefined;
  readonly #idle = new IdleWait(() => this.inFlight === 0 && this.handling === 0 && !this.#streamTable?.size);
  readonly #transport: Transport;
  readonly #options: ResolvedPipeOptions;
  readonly #logger: Logger;
  readonly #owner: object;
  readonly #handler: EventHandler;
  readonly #reader: FrameReader;
  readonly #hello: HelloExchange;
  readonly #outbound: OutboundRequests;
  readonly #inbound: InboundEvents;
  readonly #outbox: Outbox;
  #streamTable: Streams | undefined;

  constructor(init: ConnectionInit) {
    super();
    this.role = init.role;
    this.generation = init.generation;
    this.#transport = init.transport;
    this.#options = init.options;
    this.#logger = init.logger;
    this.#owner = init.owner;
    this.#handler = init.handler;
    this.#idempotency = init.idempotency;
    this.#holds = init.holds;
    this.peer = { name: init.role === 'client' ? 'server' : '', address: init.transport.remoteAddress };
    this.#reader = new FrameReader(init.transport, maxFrameBytes(init.options.maxEventBytes), this.#readerHooks());
    this.#hello = new HelloExchange(init.role, init.options.helloTimeoutMs, (error) => this.destroy(error, CloseReason.HELLO_TIMEOUT));
    const view: ConnectionView = { owner: init.owner, peerName: () => this.peer.name, sending: () => this.#sending };
    this.#outbound = new OutboundRequests({
      ...view,
      peerLimits: () => this.#peerLimits,
      send: (frame) => this.#send(frame),
      writeBlocked: () => this.#writeBlocked(),
      settled: () => this.#idle.check(),
      takesHolds: () => this.#holds !== undefined,
      streams: () => this.#streams,
    }, init.options);
    this.#inbound = new InboundEvents({
      ...view,
      handlerEnv: () => this.#env,
      sendReply: (id, fields) => this.#sendReply(id, fields),
      protocolError: (error) => this.#protocolError(error),
      full: () => this.#reader.stop(),
      finished: () => {
        this.#reader.maybeResume();
        this.#idle.check();
      },
      streams: () => this.#streams,
      peerStreamWindow: () => this.#peerLimits?.streamWindow ?? 0,
    }, init.options);
    this.#outbox = new Outbox({
      write: (chunks) => this.#write(chunks),
      failed: (error) => this.destroy(error, CloseReason.PROTOCOL_ERROR),
    });
    init.transport.onData((chunk) => this.#reader.onData(chunk));
    init.transport.onWritable(() => this.#onWritable());
    init.transport.onClose((error) => this.#onTransportClosed(error));
  }

  // ---- what others read -------------------------------------------------

  get state(): ConnectionState {
    return this.#state;
  }

  get isOpen(): boolean {
    return this.#state === ConnectionState.OPEN;
  }

  /** When the Hello exchange finished. */
  get connectedAt(): Date | undefined {
    return this.#openedAt === undefined ? undefined : new Date(this.#openedAt);
  }

  get stats(): ConnectionStats {
    const [inbound, outbound] = [this.#inbound, this.#outbound];
    return { eventsIn: inbound.eventsIn, eventsOut: outbound.eventsOut, errorsIn: inbound.errorsIn, errorsOut: outbound.errorsOut };
  }

  /** Requests sent on this connection (or waiting to be) and not yet answered. */
  get inFlight(): number {
    return this.#outbound.size;
  }

  /** Events from the peer being handled or queued here. */
  get handling(): number {
    return this.#inbound.size;
  }

  /** Streams open either way (SPEC §12). */
  get openStreams(): number {
    return this.#streamTable?.size ?? 0;
  }

  get lateReplies(): number {
    return this.#outbound.lateReplies;
  }

  get rttMs(): number | undefined {
    return this.#liveness?.rttMs;
  }

  /** This connection resumed a TLS session instead of a full handshake. */
  get resumed(): boolean {
    return this.#transport.resumed;
  }

  /** What the peer's verified certificate says (serial, fingerprint, names). */
  get peerCertificate(): Transport['peerCertificate'] {
    return this.#transport.peerCertificate;
  }

  get closeReason(): CloseReason | undefined {
    return this.#closeReason;
  }

  // ---- handshake -------------------------------------------------------

  /** Client: sends Hello and resolves with the server's HelloAck, then the connection is open. */
  async helloAsClient(): Promise<HelloAck> {
    const ack = this.#hello.wait();
    this.#send({ kind: 'hello', hello: HelloExchange.own(this.#options, this.#holds !== undefined) });
    const helloAck = (await ack) as HelloAck;
    this.#open(helloAck);
    return helloAck;
  }

  /** Server: resolves with the client's Hello; call acceptHello() to open. */
  awaitHello(): Promise<Hello> {
    return this.#hello.wait() as Promise<Hello>;
  }

  /** Server: answers the Hello and opens the connection under the verified name. */
  acceptHello(hello: Hello, peerName: string): void {
    this.peer = { name: peerName, address: this.#transport.remoteAddress };
    this.#send({ kind: 'helloAck', helloAck: { ...HelloExchange.own(this.#options, this.#holds !== undefined), peerName } });
    this.#open(hello);
  }

  #open(peerLimits: Limits): void {
    if (!this.#transitionTo(ConnectionState.OPEN)) return;
    // Only the numbers: the decoded Hello (and its software string) is not kept per connection.
    // The peer's heartbeat is clamped where it is used, in Heartbeat.deadline.
    const { heartbeatMs, maxEventBytes, maxInFlight, maxConcurrency } = peerLimits;
    const maxInboundBytes = peerLimits.maxInboundBytes ?? 0;
    this.#peerLimits = { heartbeatMs, maxEventBytes, maxInFlight, maxConcurrency, maxInboundBytes,
      idempotencyKeys: peerLimits.idempotencyKeys === true, holds: peerLimits.holds === true, streamWindow: peerLimits.streamWindow || 0 };
    this.#openedAt = Date.now();
    this.#liveness = new Liveness(this.#options.heartbeatMs, heartbeatMs, this.#transport, {
      sendPing: (seq) => this.#send({ kind: 'ping', ping: { seq } }),
      dead: (error, reason) => this.destroy(error, reason),
      rtt: (ms) => publish(diagnostics.heartbeatRtt, { owner: this.#owner, peer: this.peer.name, ms }),
    });
    this.emit('open');
  }

  /** The one place the state changes; false (and no change) when `to` is not allowed from here. */
  #transitionTo(to: ConnectionState): boolean {
    const from = this.#state;
    if (!isAllowedTransition(from, to)) return false;
    this.#state = to;
    if (to === ConnectionState.DRAINING || to === ConnectionState.CLOSING) {
      // Requests that never went out won't now: 503 at once, as for a request made now.
      this.#outbound.failWaiting(new PeerUnavailableError(`peer ${this.peer.name || this.peer.address} is ${to}`));
    }
    this.#logger.debug({ peer: this.peer.name, generation: this.generation, from, to }, 'connection state');
    this.emit('state', to, from);
    return true;
  }

  // ---- requests both ways ------------------------------------------------

  /** Sends an event to the peer and resolves with its reply; 503 at once unless the connection is open. */
  request(request: PipeRequest): Promise<PipeResponse> {
    if (this.#state !== ConnectionState.OPEN) {
      return Promise.reject(new PeerUnavailableError(`peer ${this.peer.name || this.peer.address} is not connected (${this.#state})`));
    }
    // An older peer would drop the key and run the handler on every delivery: refuse rather than lose exactly-once.
    if (request.idempotencyKey && this.#peerLimits?.idempotencyKeys !== true) {
      return Promise.reject(new NotEnabledError(`peer ${this.peer.name} is an older restpipe that does not keep idempotency keys`));
    }
    if (request.hold && this.#peerLimits?.holds !== true) {
      return Promise.reject(new NotEnabledError(`peer ${this.peer.name} no longer says it keeps holds`));
    }
    return this.#outbound.request(request);
  }

  get #sending(): boolean {
    return this.#state === ConnectionState.OPEN || this.#state === ConnectionState.DRAINING;
  }

  /** What every inbound event's handler call shares; made with the first event, after the peer is named. */
  get #env(): HandlerEnv {
    return (this.#handlerEnv ??= {
      handler: this.#handler,
      exposeTracebacks: this.#options.exposeTracebacks,
      pipe: { request: (request) => this.request(request) },
      peer: this.peer,
      // A reply the peer would refuse as too large fails alone, not the connection.
      maxReplyBytes: this.#peerLimits?.maxEventBytes || undefined,
      idempotency: this.#idempotency,
      holds: this.#holds,
      peerTakesHolds: this.#peerLimits?.holds === true,
      peerTakesStreams: (this.#peerLimits?.streamWindow ?? 0) > 0,
    });
  }

  /** The streams of this connection (SPEC §12), made with the first. */
  get #streams(): Streams {
    return (this.#streamTable ??= new Streams({
      send: (frame) => this.#send(frame),
      roomToSend: () => this.#transport.pendingWriteBytes + this.#outbox.unflushedBytes < STREAM_LOW_WATER_BYTES,
      protocolError: (error) => this.#protocolError(error),
      peerFrameBytes: () => this.#peerLimits?.maxEventBytes ?? 0,
      ended: () => this.#idle.check(),
      owner: this.#owner,
      peerName: () => this.peer.name,
    }));
  }

  /** Tells the peer a hold of ours has an outcome (SPEC §9); false when it is not open or takes no holds. */
  sendHoldNotice(hold: string): boolean {
    if (this.#state !== ConnectionState.OPEN || this.#peerLimits?.holds !== true) return false;
    this.#send({ kind: 'holdNotice', holdNotice: { hold } });
    return true;
  }

  #sendReply(id: number, fields: Omit<ReplyFrame, 'id'>): void {
    if (!this.#sending) return;
    const { returnCode, mimeType, data, kind, status, replayed, streamed, size } = fields;
    const reply: ReplyFrame = { id, returnCode, mimeType, data, kind, status };
    if (replayed) reply.replayed = true;
    if (streamed) reply.streamed = true;
    if (size) reply.size = size;
    this.#send({ kind: 'reply', reply });
  }

  #onReply(reply: ReplyFrame): void {
    if (!this.#outbound.onReply(reply)) {
      // Its stream may be on its way: stopped, not taken for a stranger's.
      if (reply.streamed) this.#streams.refuse({ id: reply.id, reply: true });
      this.#logger.debug({ peer: this.peer.name, id: reply.id }, 'late reply dropped');
      publish(diagnostics.lateReply, { owner: this.#owner, peer: this.peer.name, requestId: '' });
    }
  }

  // ---- frames in --------------------------------------------------------

  get #closing(): boolean {
    return this.#state === ConnectionState.CLOSING || this.#state === ConnectionState.CLOSED;
  }

  #readerHooks(): ConstructorParameters<typeof FrameReader>[2] {
    const connection = this;
    return {
      get closing() {
        // Destroyed but not yet closed: the rest of the chunk must start nothing.
        return connection.#closing || connection.#transport.destroyed;
      },
      get full() {
        return connection.#inbound.full;
      },
      onFrame: (frame, bytes) => this.#onFrame(frame, bytes),
      onProtocolError: (error) => this.#protocolError(error),
      onTooLarge: (error) => this.goaway(CloseReason.FRAME_TOO_LARGE, error.message, error),
      onActivity: () => this.#liveness?.noteActivity(),
      onPaused: (paused) => {
        if (this.#liveness) this.#liveness.deaf = paused;
        if (paused) this.#logger.debug({ peer: this.peer.name, inboundBytes: this.#inbound.bytes }, 'inbound events hold maxInboundBytes: reading paused');
      },
    };
  }

  #onFrame(frame: Frame, bytes: number): void {
    if (frame.kind === 'goaway') return this.#onGoaway(peerReason(frame.goaway.reason), peerText(frame.goaway.message));
    if (this.#state === ConnectionState.HANDSHAKING) {
      const refused = this.#hello.accept(frame);
      if (refused) this.#protocolError(refused);
      // Open now, not when helloAsClient() resumes: an Event may follow in the same chunk.
      else if (frame.kind === 'helloAck') this.#open(frame.helloAck);
      return;
    }
    switch (frame.kind) {
      case 'event':
        return this.#inbound.onEvent(frame.event, bytes);
      case 'reply':
        return this.#onReply(frame.reply);
      case 'ping':
        return this.#send({ kind: 'pong', pong: { seq: frame.ping.seq } });
      case 'pong':
        return this.#liveness?.onPong(frame.pong.seq);
      case 'cancel':
        return this.#inbound.onCancel(frame.cancel.id);
      case 'streamData':
        return this.#streams.onData(frame.streamData);
      case 'streamEnd':
        return this.#streams.onEnd(frame.streamEnd);
      case 'streamWindow':
        return this.#streams.onWindow(frame.streamWindow);
      case 'holdNotice':
        // Only a peer we told that we take holds may send one.
        if (this.#holds === undefined) return this.#protocolError(new ProtocolError('holdNotice from a peer that was told this node takes no holds'));
        if (!isHoldId(frame.holdNotice.hold)) return this.#protocolError(new ProtocolError('holdNotice with a malformed hold id'));
        this.emit('holdNotice', frame.holdNotice.hold);
        return;
      case 'hello':
      case 'helloAck':
        return this.#protocolError(new ProtocolError(`unexpected ${frame.kind} after the handshake`));
      default: {
        const unknown: never = frame;
        return this.#protocolError(new ProtocolError(`unhandled frame ${JSON.stringify(unknown)}`));
      }
    }
  }

  #onGoaway(reason: string, message: string): void {
    const error = new GoawayError(reason, message);
    this.#logger.info({ peer: this.peer.name, reason }, 'peer sent goaway');
    this.#hello.fail(error);
    this.#closeReason ??= `goaway:${reason}`;
    this.emit('goaway', reason, message);
    // The peer finishes what is in flight and closes; nothing new goes to it.
    if (reason === CloseReason.SHUTDOWN) {
      // Both sides draining is still draining; from the handshake there is nothing to finish.
      if (this.#transitionTo(ConnectionState.DRAINING) || this.#state === ConnectionState.DRAINING) return;
    }
    this.destroy(error, `goaway:${reason}`);
  }

  #protocolError(error: Error): void {
    this.goaway(CloseReason.PROTOCOL_ERROR, error.message, error);
  }

  // ---- frames out -------------------------------------------------------

  #send(frame: Frame): void {
    if (!this.#transport.destroyed) this.#outbox.append(frame);
  }

  #write(chunks: Buffer[]): void {
    if (this.#transport.destroyed) return;
    this.#transport.write(chunks);
    // The socket may have taken it all at once, with no 'drain' to come.
    this.#onWritable();
  }

  /** Room in the socket again, perhaps: waiting requests go, held handlers start. */
  #onWritable(): void {
    this.#streamTable?.pump();
    this.#outbound.sendWaiting();
    if (this.#writeBlocked()) this.#inbound.hold();
    else this.#inbound.release();
  }

  /** More than `maxPendingWriteBytes` is on its way to the peer: new requests wait their turn. */
  #writeBlocked(): boolean {
    return this.#transport.pendingWriteBytes + this.#outbox.unflushedBytes >= this.#options.maxPendingWriteBytes;
  }

  // ---- ending -----------------------------------------------------------

  /** Tells the peer why, then closes once the Goaway is flushed; nothing more is read or sent. */
  goaway(reason: string, message = '', error?: Error): void {
    if (this.#closing) return;
    this.#closeReason ??= reason as CloseReason;
    this.#send({ kind: 'goaway', goaway: { reason, message } });
    this.#transitionTo(ConnectionState.CLOSING);
    this.#logger.info({ peer: this.peer.name || this.peer.address, reason, err: error?.message }, 'sent goaway');
    this.#hello.fail(error ?? new GoawayError(reason, message));
    this.#end();
    // A peer that never reads must not hold the socket open.
    setTimeout(() => this.#transport.destroy(), GOAWAY_LINGER_MS).unref();
  }

  /** Closes at once. In-flight requests fail with PeerDisconnectedError. */
  destroy(error?: Error, reason: CloseReason = CloseReason.CLOSED): void {
    this.#closeReason ??= reason;
    this.#transport.destroy(error);
  }

  /**
   * Graceful end: Goaway `shutdown`, let in-flight work in both directions
   * finish (up to `timeoutMs`), then close.
   */
  drain(timeoutMs: number): Promise<void> {
    return (this.#draining ??= this.#drain(timeoutMs));
  }

  #draining: Promise<void> | undefined;

  async #drain(timeoutMs: number): Promise<void> {
    if (this.#closing) return;
    this.#closeReason ??= CloseReason.SHUTDOWN;
    if (this.#state === ConnectionState.OPEN) {
      this.#send({ kind: 'goaway', goaway: { reason: CloseReason.SHUTDOWN, message: 'draining' } });
      this.#transitionTo(ConnectionState.DRAINING);
    }
    await this.#idle.wait(timeoutMs);
    if (this.#transitionTo(ConnectionState.CLOSING)) this.#end();
  }

  /** Flushes what is queued and half-closes the socket. */
  #end(): void {
    this.#outbox.flush();
    this.#outbox.close();
    this.#transport.end();
  }

  #onTransportClosed(error: Error | undefined): void {
    const reason = this.#closeReason ?? (error ? CloseReason.SOCKET_ERROR : CloseReason.PEER_CLOSED);
    this.#closeReason = reason;
    const wasOpen = this.#openedAt !== undefined;
    this.#transitionTo(ConnectionState.CLOSED);
    this.#liveness?.stop();
    this.#outbox.close();
    this.#hello.fail(error ?? new PeerDisconnectedError(`connection closed during handshake (${reason})`));
    const lost = new PeerDisconnectedError(`connection to ${this.peer.name || this.peer.address} lost: ${reason}`, {
      cause: error,
    });
    this.#streamTable?.lostAll(lost);
    this.#outbound.failAll(lost);
    this.#inbound.abortAll(lost);
    this.#idle.release();
    this.emit('close', reason, error, wasOpen);
  }
}
