import { BodyTooLargeError, CancelledError, EventTimeoutError, ProtocolError, ReplyKind, TooManyInFlightError, type EventFrame, type ReplyFrame } from '@restpipe/wire';
import type { ConnectionView } from './connection-types.js';
import { DeadlineTimer } from './deadline-timer.js';
import { diagnostics, publish, type HandledMessage } from './diagnostics.js';
import { eventBytes, eventShape, replyStatus } from './event-shape.js';
import { collectHold, exceptionReply, handleEvent, type HandlerEnv, type ReplyFields } from './handle-event.js';
import { handleOnce } from './durable/handle-once.js';
import { LazyAbort } from './lazy-abort.js';
import { Limiter } from './limiter.js';
import { MAX_PEER_DEADLINE_MS, type ResolvedPipeOptions } from './options.js';
import { peerRequestId } from './request-id.js';
import type { StreamReceiver } from './streams/stream-receiver.js';
import type { StreamSender } from './streams/stream-sender.js';
import type { Streams } from './streams/streams.js';

/** What inbound events need of their connection. */
export interface InboundLink extends ConnectionView {
  /** What every handler call shares; asked for with the first event, after the peer is named. */
  handlerEnv(): HandlerEnv;
  sendReply(id: number, fields: Omit<ReplyFrame, 'id'>): void;
  /** The peer broke the protocol; the connection closes. */
  protocolError(error: Error): void;
  /** The events held reached `maxInboundBytes`: stop reading the peer. */
  full(): void;
  /** An event finished: below the limit again, perhaps, and drain may be waiting for the last one. */
  finished(): void;
  /** The connection's streams (SPEC §12). */
  streams(): Streams;
  /** The window the peer grants each stream it receives; 0: it takes none. */
  peerStreamWindow(): number;
}

interface Entry {
  abort: LazyAbort;
  /** Cancelled by the peer or the connection, or past its deadline: no reply is sent. */
  /** No reply will be sent, and why. */
  silenced: false | 'deadline' | 'cancel' | 'closed';
  /** Deadline, in performance.now() ms. */
  at: number;
  timeoutMs: number;
  /** Its body's bytes, counted against `maxInboundBytes` until it finishes. */
  bytes: number;
  /** Its request body, when it comes as a stream (SPEC §12). */
  receiver: StreamReceiver | undefined;
  /** Its reply body, when the handler answered with a stream: the event is done when this is. */
  sender: StreamSender | undefined;
}

/**
 * Events from the peer: at most `maxConcurrency` handlers at once and
 * `maxInFlight` more queued (the rest answered 503 at once), each with a
 * deadline from its arrival, aborted by Cancel, deadline or disconnect. Their
 * bodies are counted in bytes: at `maxInboundBytes` the link is told it is full.
 */
/** A reply not sent, as the call log shows it: the status its sender got instead (499: it went away first). */
const UNSENT = {
  deadline: { status: 504, error: 'the reply came after its deadline: not sent' },
  cancel: { status: 499, error: 'the sender cancelled the event: not sent' },
  closed: { status: 502, error: 'the connection closed first: not sent' },
} as const;

export class InboundEvents {
  // Made on first use: an idle connection keeps as little as it can (1,000s of them per server).
  #table: Map<number, Entry> | undefined;
  #timer: DeadlineTimer | undefined;
  #limiterMade: Limiter | undefined;
  #bytes = 0;
  #eventsIn = 0;
  #errorsIn = 0;

  constructor(
    private readonly link: InboundLink,
    private readonly options: ResolvedPipeOptions,
  ) {}

  get #limiter(): Limiter {
    return (this.#limiterMade ??= new Limiter(this.options.maxConcurrency, this.options.maxInFlight));
  }

  /** Events being handled or queued here. */
  get size(): number {
    return this.#table?.size ?? 0;
  }

  /** Bodies of the events held now, queued or running. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * The events held exceed `maxInboundBytes`. A peer that keeps to the limit its
   * Hello was told never gets here (see OutboundRequests); one event larger than the
   * limit on its own does, and so does a peer that ignores it.
   */
  get full(): boolean {
    return this.#bytes > this.options.maxInboundBytes;
  }

  get eventsIn(): number {
    return this.#eventsIn;
  }

  /** Events whose handler threw, or that found none (exception replies sent). */
  get errorsIn(): number {
    return this.#errorsIn;
  }

  get #entries(): Map<number, Entry> {
    return (this.#table ??= new Map());
  }

  get #deadlines(): DeadlineTimer {
    return (this.#timer ??= new DeadlineTimer((now) => this.#expire(now)));
  }

  /** `frameBytes`: the encoded frame, all of which this event holds in memory. */
  onEvent(event: EventFrame, frameBytes = event.data.length): void {
    this.#eventsIn += 1;
    event.requestId = peerRequestId(event.requestId);
    if (diagnostics.eventReceived.hasSubscribers) {
      publish(diagnostics.eventReceived, { owner: this.link.owner, peer: this.link.peerName(), requestId: event.requestId });
    }
    if (this.#entries.has(event.id)) {
      this.link.protocolError(new ProtocolError(`event id ${event.id} is already in flight`));
      return;
    }
    // The deadline runs from arrival: an event that waits its turn past it is never run.
    const timeoutMs = Math.min(event.timeoutMs || this.options.timeoutMs, MAX_PEER_DEADLINE_MS);
    const bytes = frameBytes;
    const entry: Entry = {
      abort: new LazyAbort(), silenced: false, at: performance.now() + timeoutMs, timeoutMs, bytes, receiver: undefined, sender: undefined,
    };
    if (event.streamed && !this.#openBody(event, entry)) return;
    this.#entries.set(event.id, entry);
    this.#bytes += bytes;
    if (!this.#limiter.tryRun(() => this.#run(event, entry))) {
      this.#entries.delete(event.id);
      this.#bytes -= bytes;
      entry.receiver?.destroy();
      const error = new TooManyInFlightError('too many events in flight on this connection');
      this.link.sendReply(event.id, exceptionReply(error, false));
      return;
    }
    if (this.#entries.has(event.id)) this.#deadlines.schedule(entry.at);
    if (this.full) this.link.full();
  }

  /**
   * The request body of a streamed event: a Readable for its handler, its data
   * moving the event's deadline on. Refused (503, or 413 for an event that must be
   * kept whole) with its stream stopped: the peer may already be sending it.
   */
  #openBody(event: EventFrame, entry: Entry): boolean {
    const ref = { id: event.id, reply: false };
    const streams = this.link.streams();
    let opened: StreamReceiver | Error;
    if (event.idempotencyKey || event.hold) {
      streams.refuse(ref);
      opened = new BodyTooLargeError('an event with an idempotency key or a hold must fit in --max-event-bytes: it came as a stream');
    } else {
      opened = streams.receive(ref, {
        window: this.options.streamWindowBytes, maxBytes: this.options.maxStreamBytes, idleMs: entry.timeoutMs, size: event.size ?? 0,
        onActivity: () => this.#touch(entry), requestId: event.requestId,
      }, this.options.maxStreams);
    }
    if (!(opened instanceof Error)) {
      entry.receiver = opened;
      return true;
    }
    this.link.sendReply(event.id, exceptionReply(opened, false));
    return false;
  }

  /** Data of the event's streams moved: its deadline starts again (SPEC §12). */
  #touch(entry: Entry): void {
    entry.at = performance.now() + entry.timeoutMs;
  }

  /**
   * Our replies to the peer pile up unread (more than `maxPendingWriteBytes`): start no
   * new handler, whose reply would only add to them, until release(). Reading goes on,
   * so this never deadlocks two nodes that both wait for the other to read.
   */
  hold(): void {
    this.#limiter.hold();
  }

  release(): void {
    this.#limiterMade?.release();
  }

  /** The sender gave up on event `id`: abort its handler, send nothing. */
  onCancel(id: number): void {
    const entry = this.#table?.get(id);
    if (!entry) return;
    entry.silenced = 'cancel';
    const error = new CancelledError('the sender cancelled the event');
    entry.abort.abort(error);
    entry.sender?.abort(error);
  }

  /** The connection is gone: every handler's signal aborts with `error`, and no reply is sent. */
  abortAll(error: Error): void {
    this.#timer?.stop();
    for (const entry of this.#table?.values() ?? []) {
      entry.silenced = 'closed';
      entry.abort.abort(error);
    }
  }

  /** The sender has given up (504 there): whatever a handler does after its deadline is not sent. */
  #expire(now: number): number {
    let next = Infinity;
    for (const entry of this.#entries.values()) {
      if (entry.silenced) continue;
      if (entry.at <= now) {
        entry.silenced = 'deadline';
        const error = new EventTimeoutError(`deadline of ${entry.timeoutMs} ms passed`);
        entry.abort.abort(error);
        entry.sender?.abort(error);
      } else if (entry.at < next) {
        next = entry.at;
      }
    }
    return next;
  }

  #run(event: EventFrame, entry: Entry): void | Promise<void> {
    if (entry.abort.aborted) return this.#finish(event.id);
    const started = performance.now();
    let fields: ReplyFields | Promise<ReplyFields>;
    try {
      const env = this.link.handlerEnv();
      if (event.hold) fields = collectHold(event, env);
      else if (event.idempotencyKey) fields = handleOnce(event, env, entry.abort);
      else fields = handleEvent(event, env, entry.abort, entry.receiver && { readable: entry.receiver, size: event.size });
    } catch {
      return this.#finish(event.id); // never: handleEvent catches; but the entry must not leak
    }
    if (!(fields instanceof Promise)) return this.#answer(event, entry, fields, started);
    // The entry is finished however the promise ends.
    return fields.then((f) => this.#answer(event, entry, f, started)).catch(() => this.#finish(event.id));
  }

  #answer(event: EventFrame, entry: Entry, fields: ReplyFields, started: number): void {
    const ms = performance.now() - started;
    const answering = !entry.silenced && this.link.sending();
    // What the sender got: the handler's status, or why no reply went (see UNSENT), or 503 for a stream refused.
    const unsent = answering ? undefined : UNSENT[entry.silenced || 'closed'];
    let status = unsent?.status ?? replyStatus(fields.kind, fields.status);
    let streamRefused = false;
    if (fields.stream) {
      if (!answering) fields.stream.destroy();
      else if (!this.#streamReply(event, entry, fields)) [status, streamRefused] = [503, true];
    } else if (answering) {
      const { returnCode, mimeType, data, kind, status, replayed } = fields;
      this.link.sendReply(event.id, replayed ? { returnCode, mimeType, data, kind, status, replayed } : { returnCode, mimeType, data, kind, status });
    }
    if (!entry.sender) this.#finish(event.id);
    if (status >= 400 && status !== UNSENT.cancel.status) this.#errorsIn += 1;
    if (diagnostics.handled.hasSubscribers) {
      const bytesOut = fields.stream ? (fields.size ?? 0) : fields.data.length;
      const message: HandledMessage = {
        owner: this.link.owner, peer: this.link.peerName(), ms, handlerName: fields.handlerName,
        // A held reply is no failure, and a collected outcome was counted where its handler ran (HoldRun).
        returnCode: fields.returnCode, requestId: event.requestId, failed: fields.kind === ReplyKind.EXCEPTION && !event.hold,
        ...eventShape(event, status, eventBytes(event), streamRefused ? 0 : bytesOut),
        error: unsent?.error ?? (streamRefused ? 'too many streams sent (--max-streams)' : fields.error),
      };
      // After the flush of the reply (a nextTick runs before microtasks): logs and
      // metrics are not on the sender's clock.
      queueMicrotask(() => publish(diagnostics.handled, message));
    }
  }

  /**
   * A handler's stream as the reply body (SPEC §12): the Reply says it follows, and the
   * event stays open (its signal, its deadline moving with the data) until it ends.
   */
  /** False when refused (too many streams sent): the peer got 503 instead. */
  #streamReply({ id, requestId }: EventFrame, entry: Entry, fields: ReplyFields): boolean {
    const streams = this.link.streams();
    if (streams.sending >= this.options.maxStreams) {
      // A peer that takes streams and never reads them must not hold this node's sources (files, sockets) without end.
      fields.stream!.destroy();
      this.link.sendReply(id, exceptionReply(new TooManyInFlightError(`${this.options.maxStreams} streams already sent on this connection (--max-streams)`), false));
      return false;
    }
    const { returnCode, mimeType, kind, status } = fields;
    const reply: Omit<ReplyFrame, 'id'> = { returnCode, mimeType, data: fields.data, kind, status, streamed: true };
    if (fields.size) reply.size = fields.size;
    this.link.sendReply(id, reply);
    this.#touch(entry);
    const options = {
      window: this.link.peerStreamWindow(), maxBytes: this.options.maxStreamBytes, idleMs: entry.timeoutMs, onActivity: () => this.#touch(entry), requestId,
    };
    entry.sender = streams.send({ id, reply: true }, fields.stream!, options, (error) => {
      // The reader stopped (the caller went away), the source failed, or the connection is gone: the handler hears of it.
      if (error) entry.abort.abort(error);
      this.#finish(id);
    });
    return true;
  }

  #finish(id: number): void {
    const entry = this.#table?.get(id);
    if (entry) {
      this.#table!.delete(id);
      this.#bytes -= entry.bytes;
      // A handler done without reading all its body: the peer stops sending it.
      entry.receiver?.destroy();
    }
    this.link.finished();
  }
}
