import type { Readable } from 'node:stream';
import {
  asBuffer,
  BodyTooLargeError,
  ProtocolError,
  CancelledError,
  EventTimeoutError,
  TooManyInFlightError,
  type EventFrame,
  type Frame,
  type Limits,
  type ReplyFrame,
} from '@restpipe/wire';
import type { ConnectionView } from './connection-types.js';
import { diagnostics, publish, type EventErrorMessage, type RoundtripMessage, type TimeoutMessage } from './diagnostics.js';
import { bodyBytes, eventBytes, eventShape, farHandlerName, replyStatus } from './event-shape.js';
import { messageOf } from './handle-event.js';
import type { ResolvedPipeOptions } from './options.js';
import { PendingRequests } from './pending.js';
import { nextRequestId } from './request-id.js';
import { responseFromReply, toEventFrame, type PipeRequest, type PipeResponse } from './request.js';
import { eventCostBytes } from './wire-values.js';
import type { StreamSender } from './streams/stream-sender.js';
import { isStreamSource, readableOf, toReadable } from './streams/stream-source.js';
import type { Streams } from './streams/streams.js';

const EMPTY = Buffer.alloc(0);

/** What outbound requests need of their connection. */
export interface OutboundLink extends ConnectionView {
  /** The peer's limits from its Hello; undefined before it. */
  peerLimits(): Limits | undefined;
  send(frame: Frame): void;
  /** More than the socket should hold is already on its way: new requests wait. */
  writeBlocked(): boolean;
  /** A request settled (drain may be waiting for the last one). */
  settled(): void;
  /** Our Hello said we take holds (SPEC §9): a HELD reply is one of ours to take. */
  takesHolds(): boolean;
  /** The connection's streams (SPEC §12). */
  streams(): Streams;
}

/** One request of ours in flight, as the pending table keeps it. */
interface Outbound {
  event: EventFrame;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** performance.now() when made. */
  started: number;
  /** Made while the socket was full: it waits in #waiting, and the peer has not seen it. */
  queued: boolean;
  /** What it costs the peer to hold it (eventCostBytes), counted while it is in flight. */
  cost: number;
  /** A body sent as a stream (SPEC §12), from when the event goes out. */
  source: Readable | undefined;
  sender: StreamSender | undefined;
  /** The far side replied (a far exception then fails it after the roundtrip was told). */
  answered: boolean;
  /** Its timeout was published (by the deadline, or by its stream's idle timer). */
  timedOut: boolean;
}

/**
 * Requests this side sends and the replies it awaits: the pending table with
 * its deadlines, cancel both ways, and a local queue for requests made while
 * the socket is full (their deadlines run there too). Bounded by `maxInFlight`
 * and the peer's own limit, whichever is lower.
 */
export class OutboundRequests {
  // Made on first use: most of a server's connections never send a request.
  #pendingTable: PendingRequests<Outbound, PipeResponse> | undefined;
  /** Requests made while the socket was full, oldest first; they leave it when sent or settled. */
  #waiting: Set<Outbound> | undefined;
  #eventsOut = 0;
  /** Requests of ours that failed: far-side exceptions, timeouts, and failures here. */
  #errorsOut = 0;
  #lateReplies = 0;
  /** Cost of the events sent and not yet settled: kept within the peer's maxInboundBytes. */
  #creditUsed = 0;

  constructor(
    private readonly link: OutboundLink,
    private readonly options: ResolvedPipeOptions,
  ) {}

  get #pending(): PendingRequests<Outbound, PipeResponse> {
    return (this.#pendingTable ??= new PendingRequests<Outbound, PipeResponse>({
      reply: (reply, outbound) => this.#answered(reply, outbound),
      timeout: (id, outbound) => this.#timedOut(id, outbound),
      settled: (outbound, error) => this.#settled(outbound, error),
    }));
  }

  /** Requests sent (or waiting to be) and not yet answered. */
  get size(): number {
    return this.#pendingTable?.size ?? 0;
  }

  /** Replies that matched no request (late, or never ours) and were dropped. */
  get lateReplies(): number {
    return this.#lateReplies;
  }

  get errorsOut(): number {
    return this.#errorsOut;
  }

  /** Events written to the peer so far. */
  get eventsOut(): number {
    return this.#eventsOut;
  }

  /** Checks the request, sends it (or queues it behind a full socket) and resolves with the reply. */
  request(request: PipeRequest): Promise<PipeResponse> {
    let event: EventFrame;
    try {
      event = this.#eventFor(request);
    } catch (error) {
      if (isStreamSource(request.body)) toReadable(request.body).destroy();
      return Promise.reject(error);
    }
    let source: Readable | undefined;
    if (event.streamed) source = isStreamSource(request.body) ? toReadable(request.body) : readableOf(asBuffer(event.data));
    if (source && !isStreamSource(request.body)) event.data = EMPTY;
    return this.#exchange(event, request.signal, request.onCancellable, source);
  }

  /** A reply from the peer; false when nothing waits for its id (late, or never ours). */
  onReply(reply: ReplyFrame): boolean {
    const matched = this.#pendingTable?.resolve(reply) ?? false;
    if (!matched) this.#lateReplies += 1;
    return matched;
  }

  /** Sends waiting requests, oldest first, while the socket and the peer have room for them. */
  sendWaiting(): void {
    const waiting = this.#waiting;
    if (!waiting?.size || !this.link.sending()) return;
    for (const outbound of waiting) {
      if (!this.#mayGo(outbound)) return;
      waiting.delete(outbound);
      this.#sendEvent(outbound);
    }
  }

  /** Fails every request that has not gone out yet: the peer will take nothing new. */
  failWaiting(error: Error): void {
    for (const outbound of [...(this.#waiting ?? [])]) this.#pendingTable?.reject(outbound.event.id, error);
  }

  /** Room in the socket, and within what the peer said it holds (one event always fits an idle peer). */
  #mayGo(outbound: Outbound): boolean {
    if (this.link.writeBlocked()) return false;
    const budget = this.link.peerLimits()?.maxInboundBytes || 0;
    return budget === 0 || this.#creditUsed === 0 || this.#creditUsed + outbound.cost <= budget;
  }

  /** Fails every request at once: the connection is gone. */
  failAll(error: Error): void {
    this.#pendingTable?.rejectAll(error);
  }

  #eventFor(request: PipeRequest): EventFrame {
    const limit = Math.min(this.options.maxInFlight, this.link.peerLimits()?.maxInFlight || Infinity);
    if (this.size >= limit) {
      throw new TooManyInFlightError(`${limit} requests already in flight to ${this.link.peerName()}`);
    }
    const timeoutMs = request.timeoutMs ?? this.options.timeoutMs;
    const event = toEventFrame(request, 0, timeoutMs, request.requestId || nextRequestId());
    const maxBytes = Math.min(this.options.maxEventBytes, this.link.peerLimits()?.maxEventBytes || Infinity);
    if (event.data.length > maxBytes && !event.idempotencyKey && !event.hold && this.link.peerLimits()?.streamWindow) {
      // A whole body the peer would refuse goes as a stream (SPEC §12): a node with a larger
      // --max-event-bytes, or a cluster node passing one on, does not make it a 413.
      event.streamed = true;
      event.size = event.data.length;
    }
    if (event.streamed) this.#checkStreamed(event);
    else if (event.data.length > maxBytes) {
      throw new BodyTooLargeError(`event body of ${event.data.length} bytes exceeds the limit of ${maxBytes}`);
    }
    request.signal?.throwIfAborted();
    return event;
  }

  /** A body to stream goes only to a peer that takes streams, and only within --max-stream-bytes. */
  #checkStreamed(event: EventFrame): void {
    if (!this.link.peerLimits()?.streamWindow) {
      throw new BodyTooLargeError(`the body would be streamed, and ${this.link.peerName()} is an older restpipe that takes no streams`);
    }
    const max = this.options.maxStreamBytes;
    if (max > 0 && (event.size ?? 0) > max) throw new BodyTooLargeError(`streamed body of ${event.size} bytes exceeds --max-stream-bytes (${max})`);
  }

  #exchange(event: EventFrame, signal: AbortSignal | undefined, onCancellable: PipeRequest['onCancellable'], source?: Readable): Promise<PipeResponse> {
    const id = this.#pending.nextId();
    event.id = id;
    const outbound: Outbound = {
      event, signal, onAbort: undefined, started: performance.now(), queued: false, cost: eventCostBytes(event), source, sender: undefined, answered: false, timedOut: false,
    };
    const response = this.#pending.add(id, event.timeoutMs, outbound);
    if (signal || onCancellable) outbound.onAbort = this.#canceller(outbound);
    if (signal) signal.addEventListener('abort', outbound.onAbort!, { once: true });
    if (this.#waiting?.size || !this.#mayGo(outbound)) {
      // The socket or the peer holds all it should: wait here, in order, deadline running.
      outbound.queued = true;
      (this.#waiting ??= new Set()).add(outbound);
    } else {
      this.#sendEvent(outbound);
    }
    onCancellable?.(outbound.onAbort!);
    return response;
  }

  #sendEvent(outbound: Outbound): void {
    const { event } = outbound;
    outbound.queued = false;
    this.#creditUsed += outbound.cost;
    this.#eventsOut += 1;
    this.link.send({ kind: 'event', event });
    if (outbound.source) this.#sendBody(outbound, outbound.source);
    if (diagnostics.eventSent.hasSubscribers) {
      publish(diagnostics.eventSent, { owner: this.link.owner, peer: this.link.peerName(), requestId: event.requestId });
    }
  }

  /**
   * The request's body, as a stream behind its Event. Its deadline runs while the body
   * moves; a body that fails (its source, --max-stream-bytes) fails the request.
   * The far side stopping it (its handler is done with it) is no failure.
   */
  #sendBody(outbound: Outbound, source: Readable): void {
    const { id, timeoutMs } = outbound.event;
    const options = {
      window: this.link.peerLimits()?.streamWindow ?? 0,
      maxBytes: this.options.maxStreamBytes,
      idleMs: timeoutMs,
      onActivity: () => this.#pendingTable?.touch(id, timeoutMs),
      requestId: outbound.event.requestId,
    };
    outbound.sender = this.link.streams().send({ id, reply: false }, source, options, (error) => {
      // The far handler hears of it at once (Cancel), not when it next reads its body.
      if (error && !(error instanceof CancelledError) && this.#pendingTable?.reject(id, error)) this.#sendCancel(id);
    });
  }

  /** A streamed reply's body (SPEC §12): a Readable opened before the frames that follow the Reply are read. */
  #replyStream(reply: ReplyFrame, event: EventFrame): Readable {
    const streams = this.link.streams();
    if (reply.kind !== 0) {
      streams.refuse({ id: reply.id, reply: true });
      throw new ProtocolError('the peer streamed a reply that is not a value');
    }
    const opened = streams.receive({ id: reply.id, reply: true }, {
      window: this.options.streamWindowBytes, maxBytes: this.options.maxStreamBytes, idleMs: event.timeoutMs, size: reply.size ?? 0, requestId: event.requestId,
    }, this.options.maxStreams);
    if (opened instanceof Error) throw opened;
    return opened;
  }

  /** A reply for one of our requests: the caller's response, or the far side's failure thrown. */
  #answered(reply: ReplyFrame, outbound: Outbound): PipeResponse {
    outbound.answered = true;
    let status = replyStatus(reply.kind, reply.status);
    let failure: string | undefined;
    try {
      return this.#responseOf(reply, outbound.event);
    } catch (error) {
      // What the caller gets: a far exception's own status, or 502 for a reply that broke the rules.
      status = (error as { status?: number }).status ?? 502;
      failure = messageOf(error);
      throw error;
    } finally {
      if (diagnostics.roundtrip.hasSubscribers) this.#publishRoundtrip(reply, outbound, status, failure);
    }
  }

  #responseOf(reply: ReplyFrame, event: EventFrame): PipeResponse {
    if (!reply.streamed) return responseFromReply(reply, this.link.takesHolds());
    const stream = this.#replyStream(reply, event);
    try {
      return responseFromReply(reply, this.link.takesHolds(), stream);
    } catch (error) {
      stream.destroy();
      throw error;
    }
  }

  #publishRoundtrip(reply: ReplyFrame, { event, started }: Outbound, status: number, error: string | undefined): void {
    const message: RoundtripMessage = {
      owner: this.link.owner, peer: this.link.peerName(), ms: performance.now() - started, requestId: event.requestId,
      handlerName: farHandlerName(event), returnCode: reply.returnCode,
      ...eventShape(event, status, bodyBytes(reply.data, reply.streamed, reply.size), eventBytes(event)), error,
    };
    // After the caller's own continuation (a gateway writes its HTTP response there):
    // logs and metrics are not on the caller's clock.
    queueMicrotask(() => publish(diagnostics.roundtrip, message));
  }

  #settled(outbound: Outbound, error: unknown): void {
    const { event, signal, onAbort } = outbound;
    if (outbound.queued) this.#waiting!.delete(outbound);
    else this.#creditUsed -= outbound.cost;
    // A failed request sends no more of its body (the far side hears it aborted); one never sent never starts.
    if (error) {
      if (outbound.sender) outbound.sender.abort(error as Error);
      else outbound.source?.destroy();
    }
    if (signal) signal.removeEventListener('abort', onAbort!);
    if (error) this.#errorsOut += 1;
    // A timeout has a channel of its own; a streamed body that stopped moving times out here, not in #timedOut.
    if (error instanceof EventTimeoutError && !outbound.timedOut) this.#publishTimeout(outbound, error.message);
    if (error && !(error instanceof EventTimeoutError) && diagnostics.eventError.hasSubscribers) {
      publish(diagnostics.eventError, {
        owner: this.link.owner, peer: this.link.peerName(), requestId: event.requestId, handlerName: farHandlerName(event),
        code: (error as { code?: string }).code ?? 'RP_ERR_UNKNOWN', side: 'sender', ms: performance.now() - outbound.started,
        answered: outbound.answered, ...eventShape(event, (error as { status?: number }).status ?? 500, 0, eventBytes(event)), error: messageOf(error),
      } satisfies EventErrorMessage);
    }
    this.link.settled();
    // Its cost is free again: a waiting request may fit now.
    if (!outbound.queued && this.#waiting?.size) queueMicrotask(() => this.sendWaiting());
  }

  #publishTimeout(outbound: Outbound, why = `no reply within ${outbound.event.timeoutMs} ms`): void {
    outbound.timedOut = true;
    const { event } = outbound;
    if (!diagnostics.eventTimeout.hasSubscribers) return;
    publish(diagnostics.eventTimeout, {
      owner: this.link.owner, peer: this.link.peerName(), requestId: event.requestId, handlerName: farHandlerName(event),
      ms: performance.now() - outbound.started, ...eventShape(event, 504, 0, eventBytes(event)), error: why,
    } satisfies TimeoutMessage);
  }

  #timedOut(id: number, outbound: Outbound): Error {
    const { event, queued } = outbound;
    if (!queued) this.#sendCancel(id);
    this.#publishTimeout(outbound);
    return new EventTimeoutError(`no reply from ${this.link.peerName()} within ${event.timeoutMs} ms`);
  }

  /** Cancels the request if it is still pending: it fails with CancelledError and the peer, if it saw it, gets Cancel. */
  #canceller(outbound: Outbound): () => void {
    const id = outbound.event.id;
    return () => {
      if (this.#pending.reject(id, new CancelledError('request cancelled by the caller')) && !outbound.queued) this.#sendCancel(id);
    };
  }

  #sendCancel(id: number): void {
    if (this.link.sending()) this.link.send({ kind: 'cancel', cancel: { id } });
  }
}
