import { CancelledError, EventTimeoutError, ProtocolError, TooManyInFlightError, type EventFrame, type ReplyFrame } from '@restpipe/wire';
import type { ConnectionView } from './connection-types.js';
import { DeadlineTimer } from './deadline-timer.js';
import { diagnostics, publish } from './diagnostics.js';
import { collectHold, exceptionReply, handleEvent, type HandlerEnv, type ReplyFields } from './handle-event.js';
import { handleOnce } from './durable/handle-once.js';
import { LazyAbort } from './lazy-abort.js';
import { Limiter } from './limiter.js';
import { MAX_PEER_DEADLINE_MS, type ResolvedPipeOptions } from './options.js';
import { peerRequestId } from './request-id.js';

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
}

interface Entry {
  abort: LazyAbort;
  /** Cancelled by the peer or the connection, or past its deadline: no reply is sent. */
  silenced: boolean;
  /** Deadline, in performance.now() ms. */
  at: number;
  timeoutMs: number;
  /** Its body's bytes, counted against `maxInboundBytes` until it finishes. */
  bytes: number;
}

/**
 * Events from the peer: at most `maxConcurrency` handlers at once and
 * `maxInFlight` more queued (the rest answered 503 at once), each with a
 * deadline from its arrival, aborted by Cancel, deadline or disconnect. Their
 * bodies are counted in bytes: at `maxInboundBytes` the link is told it is full.
 */
export class InboundEvents {
  // Made on first use: an idle connection keeps as little as it can (1,000s of them per server).
  #table: Map<number, Entry> | undefined;
  #timer: DeadlineTimer | undefined;
  #limiterMade: Limiter | undefined;
  #bytes = 0;
  #eventsIn = 0;

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
    const entry: Entry = { abort: new LazyAbort(), silenced: false, at: performance.now() + timeoutMs, timeoutMs, bytes };
    this.#entries.set(event.id, entry);
    this.#bytes += bytes;
    if (!this.#limiter.tryRun(() => this.#run(event, entry))) {
      this.#entries.delete(event.id);
      this.#bytes -= bytes;
      const error = new TooManyInFlightError('too many events in flight on this connection');
      this.link.sendReply(event.id, exceptionReply(error, false));
      return;
    }
    if (this.#entries.has(event.id)) this.#deadlines.schedule(entry.at);
    if (this.full) this.link.full();
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
    entry.silenced = true;
    entry.abort.abort(new CancelledError('the sender cancelled the event'));
  }

  /** The connection is gone: every handler's signal aborts with `error`, and no reply is sent. */
  abortAll(error: Error): void {
    this.#timer?.stop();
    for (const entry of this.#table?.values() ?? []) {
      entry.silenced = true;
      entry.abort.abort(error);
    }
  }

  /** The sender has given up (504 there): whatever a handler does after its deadline is not sent. */
  #expire(now: number): number {
    let next = Infinity;
    for (const entry of this.#entries.values()) {
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

  #run(event: EventFrame, entry: Entry): void | Promise<void> {
    if (entry.abort.aborted) return this.#finish(event.id);
    const started = performance.now();
    let fields: ReplyFields | Promise<ReplyFields>;
    try {
      const env = this.link.handlerEnv();
      if (event.hold) fields = collectHold(event, env);
      else fields = event.idempotencyKey ? handleOnce(event, env, entry.abort) : handleEvent(event, env, entry.abort);
    } catch {
      return this.#finish(event.id); // never: handleEvent catches; but the entry must not leak
    }
    if (!(fields instanceof Promise)) return this.#answer(event, entry, fields, started);
    // The entry is finished however the promise ends.
    return fields.then((f) => this.#answer(event, entry, f, started)).catch(() => this.#finish(event.id));
  }

  #answer(event: EventFrame, entry: Entry, fields: ReplyFields, started: number): void {
    const ms = performance.now() - started;
    if (!entry.silenced && this.link.sending()) {
      const { returnCode, mimeType, data, kind, status, replayed } = fields;
      this.link.sendReply(event.id, replayed ? { returnCode, mimeType, data, kind, status, replayed } : { returnCode, mimeType, data, kind, status });
    }
    this.#finish(event.id);
    if (diagnostics.handled.hasSubscribers) {
      const message = {
        owner: this.link.owner, peer: this.link.peerName(), ms, handlerName: fields.handlerName,
        returnCode: fields.returnCode, requestId: event.requestId, failed: fields.kind !== 0,
      };
      // After the flush of the reply (a nextTick runs before microtasks): logs and
      // metrics are not on the sender's clock.
      queueMicrotask(() => publish(diagnostics.handled, message));
    }
  }

  #finish(id: number): void {
    const entry = this.#table?.get(id);
    if (entry) {
      this.#table!.delete(id);
      this.#bytes -= entry.bytes;
    }
    this.link.finished();
  }
}
