import { EventEmitter } from 'node:events';
import {
  BodyTooLargeError,
  CancelledError,
  decodeFrame,
  EventTimeoutError,
  FrameDecoder,
  FrameTooLargeError,
  FrameWriter,
  GoawayError,
  HeartbeatTimeoutError,
  HelloTimeoutError,
  PeerDisconnectedError,
  PeerUnavailableError,
  ProtocolError,
  PROTOCOL_VERSION,
  SlowConsumerError,
  TooManyInFlightError,
  type EventFrame,
  type Frame,
  type Hello,
  type HelloAck,
  type Limits,
  type ReplyFrame,
} from '@restpipe/wire';
import { diagnostics, publish } from './diagnostics.js';
import type { EventHandler, Peer } from './event-handler.js';
import { DeadlineTimer } from './deadline-timer.js';
import { exceptionReply, handleEvent, type HandlerEnv, type ReplyFields } from './handle-event.js';
import { Heartbeat } from './heartbeat.js';
import { LazyAbort } from './lazy-abort.js';
import { Limiter } from './limiter.js';
import type { Logger } from './logger.js';
import { maxFrameBytes, SLOW_CONSUMER_HARD_FACTOR, type ResolvedPipeOptions } from './options.js';
import { PendingRequests } from './pending.js';
import { nextRequestId } from './request-id.js';
import { responseFromReply, toEventFrame, type PipeRequest, type PipeResponse } from './request.js';
import { CloseReason, ConnectionState } from './state.js';
import type { Transport } from './transport.js';
import { SOFTWARE } from './version.js';

export type Role = 'server' | 'client';

/** A connection that flushed more recently than this is busy: it batches per event-loop turn. */
const BUSY_FLUSH_WINDOW_MS = 0.1;
/**
 * Within one burst, the first this many frames go out at once, then twice as many,
 * and so on: the peer starts on the head of a long burst while this side is still
 * producing its tail, and a burst of n frames costs about log2(n / 16) more writes.
 */
const FIRST_PIECE_FRAMES = 16;

/** `get_time_utc`: how diagnostics name an event's method. */
function handlerNameOf(event: EventFrame): string {
  return `${event.verb}_${event.noun.join('_')}`;
}

export interface ConnectionInit {
  role: Role;
  transport: Transport;
  options: ResolvedPipeOptions;
  handler: EventHandler;
  /** Increases with every connection the owner accepts or dials. */
  generation: number;
  logger: Logger;
  /** The PipeServer or PipeClient, named in diagnostics. */
  owner: object;
}

export interface ConnectionStats {
  eventsIn: number;
  eventsOut: number;
}

interface InboundEntry {
  abort: LazyAbort;
  /** Cancelled by the peer or the connection, or past its deadline: no reply is sent. */
  silenced: boolean;
  /** Deadline, in performance.now() ms. */
  at: number;
  timeoutMs: number;
}

/** One request of ours in flight, as the pending table keeps it. */
interface Outbound {
  event: EventFrame;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** performance.now() when sent. */
  started: number;
}

interface HandshakeWaiter {
  resolve(frame: Hello | HelloAck): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * One mutual-TLS connection after the TLS handshake: the Hello exchange,
 * requests in both directions multiplexed by id, heartbeats, and an orderly or
 * abrupt end. Emits `open` and, exactly once, `close` (reason, error).
 */
export class PipeConnection extends EventEmitter {
  readonly role: Role;
  readonly generation: number;
  readonly stats: ConnectionStats = { eventsIn: 0, eventsOut: 0 };
  #openedAt: number | undefined;
  peer: Peer;

  #state: ConnectionState = ConnectionState.HANDSHAKING;
  #closeReason: CloseReason | undefined;
  #peerLimits: Limits | undefined;
  #handshake: HandshakeWaiter | undefined;
  #heartbeat: Heartbeat | undefined;
  readonly #transport: Transport;
  readonly #options: ResolvedPipeOptions;
  readonly #logger: Logger;
  readonly #owner: object;
  readonly #handler: EventHandler;
  readonly #decoder: FrameDecoder;
  #pendingRequests: PendingRequests<Outbound, PipeResponse> | undefined;

  /** Requests of ours awaiting replies; made on first use, as most server-side connections never send one. */
  get #pending(): PendingRequests<Outbound, PipeResponse> {
    return (this.#pendingRequests ??= new PendingRequests<Outbound, PipeResponse>({
      reply: (reply, outbound) => this.#answered(reply, outbound),
      timeout: (id, outbound) => this.#timedOut(id, outbound.event),
      settled: (outbound, error) => this.#settled(outbound, error),
    }));
  }
  // Made on first use: an idle connection keeps as little as it can (1,000s of them per server).
  #inboundTable: Map<number, InboundEntry> | undefined;
  #inboundTimer: DeadlineTimer | undefined;
  readonly #limiter: Limiter;
  #handlerEnv: HandlerEnv | undefined;

  constructor(init: ConnectionInit) {
    super();
    this.role = init.role;
    this.generation = init.generation;
    this.#transport = init.transport;
    this.#options = init.options;
    this.#logger = init.logger;
    this.#owner = init.owner;
    this.#handler = init.handler;
    this.peer = { name: init.role === 'client' ? 'server' : '', address: init.transport.remoteAddress };
    this.#decoder = new FrameDecoder(maxFrameBytes(init.options.maxEventBytes));
    this.#limiter = new Limiter(init.options.maxConcurrency, init.options.maxInFlight);
    init.transport.onData((chunk) => this.#onData(chunk));
    init.transport.onClose((error) => this.#onTransportClosed(error));
  }

  /** When the Hello exchange finished. */
  get connectedAt(): Date | undefined {
    return this.#openedAt === undefined ? undefined : new Date(this.#openedAt);
  }

  get #inbound(): Map<number, InboundEntry> {
    return (this.#inboundTable ??= new Map());
  }

  get #inboundDeadlines(): DeadlineTimer {
    return (this.#inboundTimer ??= new DeadlineTimer((now) => this.#expireInbound(now)));
  }

  /** What every inbound event's handler call shares; made with the first event, after the peer is named. */
  get #env(): HandlerEnv {
    return (this.#handlerEnv ??= {
      handler: this.#handler,
      exposeTracebacks: this.#options.exposeTracebacks,
      pipe: { request: (request) => this.request(request) },
      peer: this.peer,
    });
  }

  get state(): ConnectionState {
    return this.#state;
  }

  get isOpen(): boolean {
    return this.#state === ConnectionState.OPEN;
  }

  /** Requests sent on this connection and not yet answered. */
  get inFlight(): number {
    return this.#pendingRequests?.size ?? 0;
  }

  /** Events from the peer being handled or queued here. */
  get handling(): number {
    return this.#inboundTable?.size ?? 0;
  }

  get lateReplies(): number {
    return this.#pendingRequests?.lateReplies ?? 0;
  }

  get rttMs(): number | undefined {
    return this.#heartbeat?.rttMs;
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
    const ack = this.#awaitHandshake(new HelloTimeoutError('no HelloAck from the server in time'));
    this.#send({ kind: 'hello', hello: this.#ownHello() });
    const helloAck = (await ack) as HelloAck;
    this.#open(helloAck);
    return helloAck;
  }

  /** Server: resolves with the client's Hello; call acceptHello() to open. */
  awaitHello(): Promise<Hello> {
    return this.#awaitHandshake(new HelloTimeoutError('no Hello from the client in time')) as Promise<Hello>;
  }

  /** Server: answers the Hello and opens the connection under the verified name. */
  acceptHello(hello: Hello, peerName: string): void {
    this.peer = { name: peerName, address: this.#transport.remoteAddress };
    this.#send({ kind: 'helloAck', helloAck: { ...this.#ownHello(), peerName } });
    this.#open(hello);
  }

  #ownHello(): Hello {
    const o = this.#options;
    return {
      protocolVersion: PROTOCOL_VERSION,
      software: SOFTWARE,
      heartbeatMs: o.heartbeatMs,
      maxEventBytes: o.maxEventBytes,
      maxInFlight: o.maxInFlight,
      maxConcurrency: o.maxConcurrency,
    };
  }

  #awaitHandshake(timeoutError: Error): Promise<Hello | HelloAck> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#handshake = undefined;
        reject(timeoutError);
        this.destroy(timeoutError, CloseReason.HELLO_TIMEOUT);
      }, this.#options.helloTimeoutMs);
      this.#handshake = { resolve, reject, timer };
    });
  }

  #settleHandshake(frame: Hello | HelloAck | Error): void {
    const waiter = this.#handshake;
    if (!waiter) return;
    this.#handshake = undefined;
    clearTimeout(waiter.timer);
    if (frame instanceof Error) waiter.reject(frame);
    else waiter.resolve(frame);
  }

  #open(peerLimits: Limits): void {
    if (this.#state !== ConnectionState.HANDSHAKING) return;
    // Only the numbers: the decoded Hello (and its software string) is not kept per connection.
    const { heartbeatMs, maxEventBytes, maxInFlight, maxConcurrency } = peerLimits;
    this.#peerLimits = { heartbeatMs, maxEventBytes, maxInFlight, maxConcurrency };
    this.#openedAt = Date.now();
    this.#transitionTo([ConnectionState.HANDSHAKING], ConnectionState.OPEN);
    this.#heartbeat = new Heartbeat(
      this.#options.heartbeatMs,
      Heartbeat.deadline(this.#options.heartbeatMs, peerLimits.heartbeatMs),
      {
        sendPing: (seq) => this.#send({ kind: 'ping', ping: { seq } }),
        onDead: (silentMs) =>
          this.destroy(
            new HeartbeatTimeoutError(`peer silent for ${Math.round(silentMs)} ms`),
            CloseReason.HEARTBEAT_TIMEOUT,
          ),
        onRtt: (ms) => publish(diagnostics.heartbeatRtt, { owner: this.#owner, peer: this.peer.name, ms }),
      },
    );
    this.#heartbeat.start();
    this.emit('open');
  }

  #transitionTo(allowedFrom: readonly ConnectionState[], to: ConnectionState): boolean {
    const from = this.#state;
    if (!allowedFrom.includes(from)) return false;
    this.#state = to;
    this.#logger.debug({ peer: this.peer.name, generation: this.generation, from, to }, 'connection state');
    this.emit('state', to, from);
    return true;
  }

  // ---- outbound requests ----------------------------------------------

  /** Sends an event to the peer and resolves with its reply. */
  request(request: PipeRequest): Promise<PipeResponse> {
    let event: EventFrame;
    try {
      event = this.#eventFor(request);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#exchange(event, request.signal, request.onCancellable);
  }

  /** Checks that the request may go now and makes its Event frame; throws if not. */
  #eventFor(request: PipeRequest): EventFrame {
    if (this.#state !== ConnectionState.OPEN) {
      throw new PeerUnavailableError(`peer ${this.peer.name || this.peer.address} is not connected`);
    }
    const limit = Math.min(this.#options.maxInFlight, this.#peerLimits?.maxInFlight || Infinity);
    if (this.#pending.size >= limit) {
      throw new TooManyInFlightError(`${limit} requests already in flight to ${this.peer.name}`);
    }
    const timeoutMs = request.timeoutMs ?? this.#options.timeoutMs;
    const event = toEventFrame(request, 0, timeoutMs, request.requestId || nextRequestId());
    this.#checkEventSize(event);
    request.signal?.throwIfAborted();
    return event;
  }

  #checkEventSize(event: EventFrame): void {
    const limit = Math.min(this.#options.maxEventBytes, this.#peerLimits?.maxEventBytes || Infinity);
    if (event.data.length > limit) {
      throw new BodyTooLargeError(`event body of ${event.data.length} bytes exceeds the limit of ${limit}`);
    }
  }

  #exchange(event: EventFrame, signal: AbortSignal | undefined, onCancellable: PipeRequest['onCancellable']): Promise<PipeResponse> {
    const id = this.#pending.nextId();
    event.id = id;
    const outbound: Outbound = { event, signal, onAbort: undefined, started: performance.now() };
    const response = this.#pending.add(id, event.timeoutMs, outbound);
    if (signal || onCancellable) outbound.onAbort = this.#canceller(id);
    if (signal) signal.addEventListener('abort', outbound.onAbort!, { once: true });
    this.stats.eventsOut += 1;
    this.#send({ kind: 'event', event });
    if (diagnostics.eventSent.hasSubscribers) {
      publish(diagnostics.eventSent, { owner: this.#owner, peer: this.peer.name, requestId: event.requestId });
    }
    onCancellable?.(outbound.onAbort!);
    return response;
  }

  /** A reply for one of our requests: the caller's response, or the far side's failure thrown. */
  #answered(reply: ReplyFrame, { event, started }: Outbound): PipeResponse {
    if (diagnostics.roundtrip.hasSubscribers) {
      const message = {
        owner: this.#owner, peer: this.peer.name, ms: performance.now() - started, requestId: event.requestId,
        handlerName: handlerNameOf(event), returnCode: reply.returnCode, status: reply.status || 200,
      };
      // After the caller's own continuation (a gateway writes its HTTP response there):
      // logs and metrics are not on the caller's clock.
      queueMicrotask(() => publish(diagnostics.roundtrip, message));
    }
    return responseFromReply(reply);
  }

  #settled({ event, signal, onAbort }: Outbound, error: unknown): void {
    if (signal) signal.removeEventListener('abort', onAbort!);
    // A timeout has a channel of its own.
    if (error && !(error instanceof EventTimeoutError) && diagnostics.eventError.hasSubscribers) {
      publish(diagnostics.eventError, {
        owner: this.#owner, peer: this.peer.name, requestId: event.requestId, handlerName: handlerNameOf(event),
        code: (error as { code?: string }).code ?? 'RP_ERR_UNKNOWN', side: 'sender',
      });
    }
  }

  #timedOut(id: number, event: EventFrame): Error {
    this.#sendCancel(id);
    publish(diagnostics.eventTimeout, {
      owner: this.#owner, peer: this.peer.name, requestId: event.requestId, handlerName: handlerNameOf(event),
    });
    return new EventTimeoutError(`no reply from ${this.peer.name} within ${event.timeoutMs} ms`);
  }

  /** Cancels request `id` if it is still pending: it fails with CancelledError and the peer gets Cancel. */
  #canceller(id: number): () => void {
    return () => {
      if (this.#pending.reject(id, new CancelledError('request cancelled by the caller'))) this.#sendCancel(id);
    };
  }

  #sendCancel(id: number): void {
    if (this.#state === ConnectionState.OPEN || this.#state === ConnectionState.DRAINING) {
      this.#send({ kind: 'cancel', cancel: { id } });
    }
  }

  #onReply(reply: ReplyFrame): void {
    if (!this.#pending.resolve(reply)) {
      this.#logger.debug({ peer: this.peer.name, id: reply.id }, 'late reply dropped');
      publish(diagnostics.lateReply, { owner: this.#owner, peer: this.peer.name, requestId: '' });
      return;
    }
    this.#maybeFinishDrain();
  }

  // ---- inbound events -------------------------------------------------

  #onEvent(event: EventFrame): void {
    this.stats.eventsIn += 1;
    if (diagnostics.eventReceived.hasSubscribers) {
      publish(diagnostics.eventReceived, { owner: this.#owner, peer: this.peer.name, requestId: event.requestId });
    }
    if (this.#inbound.has(event.id)) {
      this.#protocolError(new ProtocolError(`event id ${event.id} is already in flight`));
      return;
    }
    // The deadline runs from arrival: an event that waits its turn past it is never run.
    const timeoutMs = event.timeoutMs || this.#options.timeoutMs;
    const entry: InboundEntry = { abort: new LazyAbort(), silenced: false, at: performance.now() + timeoutMs, timeoutMs };
    this.#inbound.set(event.id, entry);
    const accepted = this.#limiter.tryRun(() => this.#runEvent(event, entry));
    if (!accepted) {
      this.#inbound.delete(event.id);
      const error = new TooManyInFlightError('too many events in flight on this connection');
      this.#sendReply(event.id, exceptionReply(error, false));
      return;
    }
    if (this.#inbound.has(event.id)) this.#inboundDeadlines.schedule(entry.at);
  }

  /** The sender has given up (504 there): whatever a handler does after its deadline is not sent. */
  #expireInbound(now: number): number {
    let next = Infinity;
    for (const entry of this.#inbound.values()) {
      if (entry.silenced) continue;
      if (entry.at <= now) {
        entry.silenced = true;
        entry.abort.abort(new EventTimeoutError(`deadline of ${entry.timeoutMs} ms passed`));
      } else if (entry.at < next) {
        next = entry.at;
      }
    }
    return next;
  }

  #runEvent(event: EventFrame, entry: InboundEntry): void | Promise<void> {
    if (entry.abort.aborted) return this.#finishEvent(event.id);
    const started = performance.now();
    const fields = handleEvent(event, this.#env, entry.abort);
    if (fields instanceof Promise) return fields.then((f) => this.#answer(event, entry, f, started));
    return this.#answer(event, entry, fields, started);
  }

  #answer(event: EventFrame, entry: InboundEntry, fields: ReplyFields, started: number): void {
    const ms = performance.now() - started;
    if (!entry.silenced) this.#sendReply(event.id, fields);
    this.#finishEvent(event.id);
    if (diagnostics.handled.hasSubscribers) {
      const message = {
        owner: this.#owner, peer: this.peer.name, ms, handlerName: fields.handlerName,
        returnCode: fields.returnCode, requestId: event.requestId, failed: fields.kind !== 0,
      };
      // After the flush of the reply (a nextTick runs before microtasks): logs and
      // metrics are not on the sender's clock.
      queueMicrotask(() => publish(diagnostics.handled, message));
    }
  }

  #finishEvent(id: number): void {
    this.#inbound.delete(id);
    this.#maybeFinishDrain();
  }

  #sendReply(id: number, fields: Omit<ReplyFrame, 'id'>): void {
    if (this.#state !== ConnectionState.OPEN && this.#state !== ConnectionState.DRAINING) return;
    const { returnCode, mimeType, data, kind, status } = fields;
    this.#send({ kind: 'reply', reply: { id, returnCode, mimeType, data, kind, status } });
  }

  #onCancel(id: number): void {
    const entry = this.#inbound.get(id);
    if (!entry) return;
    entry.silenced = true;
    entry.abort.abort(new CancelledError('the sender cancelled the event'));
  }

  // ---- frames in --------------------------------------------------------

  #onData(chunk: Buffer): void {
    // After a Goaway of ours, nothing the peer sends can matter: don't parse or buffer it.
    if (this.#goawaySent) return;
    this.#framesInChunk = 0;
    try {
      this.#decoder.each(chunk, this.#onBody);
    } catch (error) {
      if (!(error instanceof FrameTooLargeError)) throw error;
      this.goaway(CloseReason.FRAME_TOO_LARGE, error.message, error);
      return;
    }
    // Any complete frame is a sign of life; once per chunk is as good as once per frame.
    if (this.#framesInChunk > 0) this.#heartbeat?.noteActivity();
  }

  #framesInChunk = 0;

  /** One frame body from the decoder; false stops the chunk (the connection is closing). */
  readonly #onBody = (body: Buffer): boolean => {
    if (this.#state === ConnectionState.CLOSED || this.#goawaySent) return false;
    this.#framesInChunk += 1;
    let frame: Frame;
    try {
      frame = decodeFrame(body);
    } catch (error) {
      this.#protocolError(error as Error);
      return false;
    }
    try {
      this.#onFrame(frame);
    } catch (error) {
      // A bug in handling one frame: report it as uncaught, as it would have been,
      // but without leaving the decoder halfway through the chunk.
      process.nextTick(() => {
        throw error;
      });
    }
    return true;
  };

  #onFrame(frame: Frame): void {
    if (this.#state === ConnectionState.HANDSHAKING) {
      this.#onHandshakeFrame(frame);
      return;
    }
    switch (frame.kind) {
      case 'event':
        return this.#onEvent(frame.event);
      case 'reply':
        return this.#onReply(frame.reply);
      case 'ping':
        return this.#send({ kind: 'pong', pong: { seq: frame.ping.seq } });
      case 'pong':
        return this.#heartbeat?.onPong(frame.pong.seq);
      case 'cancel':
        return this.#onCancel(frame.cancel.id);
      case 'goaway':
        return this.#onGoaway(frame.goaway.reason, frame.goaway.message);
      case 'hello':
      case 'helloAck':
        return this.#protocolError(new ProtocolError(`unexpected ${frame.kind} after the handshake`));
      default: {
        const unknown: never = frame;
        return this.#protocolError(new ProtocolError(`unhandled frame ${JSON.stringify(unknown)}`));
      }
    }
  }

  #onHandshakeFrame(frame: Frame): void {
    const expected = this.role === 'server' ? 'hello' : 'helloAck';
    if (frame.kind === 'goaway') {
      this.#onGoaway(frame.goaway.reason, frame.goaway.message);
      return;
    }
    if (frame.kind !== expected) {
      this.#protocolError(new ProtocolError(`expected ${expected} first, got ${frame.kind}`));
      return;
    }
    const hello = frame.kind === 'hello' ? frame.hello : frame.kind === 'helloAck' ? frame.helloAck : undefined;
    if (!hello || hello.protocolVersion !== PROTOCOL_VERSION) {
      this.#protocolError(new ProtocolError(`unsupported protocol version ${hello?.protocolVersion}`));
      return;
    }
    this.#settleHandshake(hello);
  }

  #onGoaway(reason: string, message: string): void {
    const error = new GoawayError(reason, message);
    this.#logger.info({ peer: this.peer.name, reason }, 'peer sent goaway');
    this.#settleHandshake(error);
    this.#closeReason ??= `goaway:${reason}`;
    this.emit('goaway', reason);
    if (reason === CloseReason.SHUTDOWN && this.#state === ConnectionState.OPEN) {
      // The peer finishes what is in flight and closes; nothing new goes to it.
      this.#transitionTo([ConnectionState.OPEN], ConnectionState.DRAINING);
      return;
    }
    if (this.#state !== ConnectionState.DRAINING) this.destroy(error, `goaway:${reason}`);
  }

  #protocolError(error: Error): void {
    this.goaway(CloseReason.PROTOCOL_ERROR, error.message, error);
  }

  // ---- frames out -------------------------------------------------------

  readonly #writer = new FrameWriter();

  /**
   * Queues a frame; a burst of them goes out together. An idle connection
   * flushes at the end of the current tick, for the lowest latency. A busy one
   * (it flushed less than BUSY_FLUSH_WINDOW_MS ago) flushes once per turn of the
   * event loop instead: a gateway reading 64 HTTP requests from 64 sockets in one
   * poll phase then sends them in a few TLS records, not 64. A long burst is sent
   * in growing pieces (FIRST_PIECE_FRAMES) so that the peer is never left waiting
   * for its end: with 64 requests in flight on one connection, that overlap of the
   * two sides' work gave about 1.4 times the requests per second.
   */
  #send(frame: Frame): void {
    if (this.#transport.destroyed) return;
    this.#writer.append(frame);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      if (performance.now() - this.#lastFlushAt < BUSY_FLUSH_WINDOW_MS) setImmediate(this.#endOfBurst);
      else process.nextTick(this.#endOfBurst);
    } else if (this.#writer.queued >= this.#pieceFrames) {
      this.#pieceFrames *= 2;
      this.#flush();
    }
  }

  #lastFlushAt = -Infinity;
  #flushScheduled = false;
  #pieceFrames = FIRST_PIECE_FRAMES;

  readonly #endOfBurst = (): void => {
    this.#flushScheduled = false;
    this.#pieceFrames = FIRST_PIECE_FRAMES;
    this.#flush();
  };

  readonly #flush = (): void => {
    if (this.#writer.queued === 0) return;
    this.#lastFlushAt = performance.now();
    let chunks: Buffer[];
    try {
      chunks = this.#writer.take();
    } catch (error) {
      // A frame this side could not encode: a bug of ours, never the peer's doing.
      this.destroy(error as Error, CloseReason.PROTOCOL_ERROR);
      return;
    }
    if (this.#transport.destroyed) return;
    this.#transport.write(chunks);
    this.#watchBackpressure();
  };

  #stallTimer: NodeJS.Timeout | undefined;

  /**
   * A busy peer may have a lot queued for it; a slow consumer is one that stops
   * taking it. Past `maxPendingWriteBytes` the peer must make progress within a
   * heartbeat interval; past SLOW_CONSUMER_HARD_FACTOR times that, it is cut off at once.
   */
  #watchBackpressure(): void {
    const pending = this.#transport.pendingWriteBytes;
    const soft = this.#options.maxPendingWriteBytes;
    if (pending <= soft) return;
    if (pending > soft * SLOW_CONSUMER_HARD_FACTOR + maxFrameBytes(this.#options.maxEventBytes)) {
      this.destroy(new SlowConsumerError(`peer left ${pending} bytes unread`), CloseReason.SLOW_CONSUMER);
      return;
    }
    if (this.#stallTimer) return;
    const flushed = this.#transport.bytesFlushed;
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      const stuck = this.#transport.bytesFlushed === flushed;
      if (stuck && this.#transport.pendingWriteBytes > soft) {
        this.destroy(new SlowConsumerError(`peer read nothing of ${this.#transport.pendingWriteBytes} bytes for ${this.#options.heartbeatMs} ms`), CloseReason.SLOW_CONSUMER);
      }
    }, this.#options.heartbeatMs);
    this.#stallTimer.unref();
  }

  // ---- ending -----------------------------------------------------------

  /** Tells the peer why, then closes once the Goaway is flushed. */
  goaway(reason: string, message = '', error?: Error): void {
    if (this.#state === ConnectionState.CLOSED || this.#goawaySent) return;
    this.#goawaySent = true;
    this.#closeReason ??= reason as CloseReason;
    this.#send({ kind: 'goaway', goaway: { reason, message } });
    this.#logger.info({ peer: this.peer.name || this.peer.address, reason, err: error?.message }, 'sent goaway');
    this.#settleHandshake(error ?? new GoawayError(reason, message));
    this.#flush();
    this.#transport.end();
    // A peer that never reads must not hold the socket open.
    setTimeout(() => this.#transport.destroy(), 1_000).unref();
  }

  /** Closes at once. In-flight requests fail with PeerDisconnectedError. */
  destroy(error?: Error, reason: CloseReason = CloseReason.CLOSED): void {
    this.#closeReason ??= reason;
    this.#transport.destroy(error);
  }

  #drainWaiter: (() => void) | undefined;
  /** Set by goaway(): the connection is on its way out and reads nothing more. */
  #goawaySent = false;

  /**
   * Graceful end: Goaway `shutdown`, let in-flight work in both directions
   * finish (up to `timeoutMs`), then close.
   */
  async drain(timeoutMs: number): Promise<void> {
    if (this.#state === ConnectionState.CLOSED) return;
    this.#closeReason ??= CloseReason.SHUTDOWN;
    if (this.#state === ConnectionState.OPEN) {
      this.#send({ kind: 'goaway', goaway: { reason: CloseReason.SHUTDOWN, message: 'draining' } });
      this.#transitionTo([ConnectionState.OPEN], ConnectionState.DRAINING);
    }
    const idle = new Promise<void>((resolve) => {
      this.#drainWaiter = resolve;
      this.#maybeFinishDrain();
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([idle, timeout]);
    clearTimeout(timer);
    this.#flush();
    this.#transport.end();
  }

  #maybeFinishDrain(): void {
    if (this.#drainWaiter && this.inFlight === 0 && this.handling === 0) {
      const done = this.#drainWaiter;
      this.#drainWaiter = undefined;
      done();
    }
  }

  #onTransportClosed(error: Error | undefined): void {
    const reason = this.#closeReason ?? (error ? CloseReason.SOCKET_ERROR : CloseReason.PEER_CLOSED);
    this.#closeReason = reason;
    const wasOpen = this.#state !== ConnectionState.HANDSHAKING;
    this.#state = ConnectionState.CLOSED;
    this.#heartbeat?.stop();
    this.#inboundTimer?.stop();
    clearTimeout(this.#stallTimer);
    this.#settleHandshake(error ?? new PeerDisconnectedError(`connection closed during handshake (${reason})`));
    const lost = new PeerDisconnectedError(`connection to ${this.peer.name || this.peer.address} lost: ${reason}`, {
      cause: error,
    });
    this.#pendingRequests?.rejectAll(lost);
    for (const entry of this.#inboundTable?.values() ?? []) {
      entry.silenced = true;
      entry.abort.abort(lost);
    }
    this.#drainWaiter?.();
    this.emit('close', reason, error, wasOpen);
  }
}
