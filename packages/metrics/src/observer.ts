import type { Channel } from 'node:diagnostics_channel';
import {
  diagnostics,
  silentLogger,
  type ClusterMessage,
  type ConnectFailMessage,
  type DisconnectMessage,
  type RefusedMessage,
  type StreamMessage,
  type EventErrorMessage,
  type HandledMessage,
  type HoldMessage,
  type JobMessage,
  type Logger,
  type OwnedMessage,
  type RoundtripMessage,
  type TimeoutMessage,
  type TimingMessage,
} from '@restpipe/core';
import { PrometheusMetrics } from './prometheus.js';
import { createStatsdSink, type StatsdSink, type StatsdTarget } from './statsd-sink.js';
import { CallLog } from './watch/call-log.js';
import { ClosedLog } from './watch/closed-log.js';

export interface ObserverOptions {
  /** The PipeServer or PipeClient to watch; messages from other pipes are ignored. */
  owner: object;
  /** `off` sends nothing. */
  statsd: Omit<StatsdTarget, 'prefix'> | 'off';
  /** `restpipe.server` or `restpipe.client` by default. */
  prefix: string;
  /** Open connections now, for the `connections` gauge. */
  connections: () => number;
  /** Unfinished jobs now, for the `jobs.pending` gauge between job changes. */
  jobsPending?: (() => number) | undefined;
  logger?: Logger | undefined;
}

/** A handler name made safe to stand in a StatsD metric name. */
export function metricSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9_]/g, '_');
}

/**
 * Turns what core publishes into StatsD metrics, Prometheus metrics and one
 * log line per event on each side. Core never sees any of this.
 */
export class Observer {
  readonly prometheus: PrometheusMetrics;
  /** The last 1000 events, and their rates (SPEC §13 `/_rp/events`). */
  readonly calls = new CallLog();
  /** The last 1000 closed or refused connections (SPEC §13 `/_rp/connections/closed`). */
  readonly closed = new ClosedLog();
  readonly #statsd: StatsdSink | null;
  readonly #logger: Logger;
  readonly #options: ObserverOptions;
  readonly #unsubscribe: Array<() => void> = [];

  constructor(options: ObserverOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.prometheus = new PrometheusMetrics(options.prefix, options.jobsPending);
    this.#statsd = options.statsd === 'off' ? null : createStatsdSink({ ...options.statsd, prefix: options.prefix }, this.#logger);
    this.#on(diagnostics.connect, () => this.#connected());
    this.#on(diagnostics.connectFail, (m: ConnectFailMessage) => {
      this.#count('connect.fail', 'connectFail');
      this.closed.add(m.peer, m.address, m.error.message, true);
    });
    this.#on(diagnostics.refused, (m: RefusedMessage) => this.closed.add(m.peer, m.address, m.reason, true));
    this.#on(diagnostics.disconnect, (m: DisconnectMessage) => this.#disconnected(m));
    this.#on(diagnostics.eventSent, () => this.#count('event.sent', 'eventSent'));
    this.#on(diagnostics.eventReceived, () => this.#count('event.received', 'eventReceived'));
    this.#on(diagnostics.eventTimeout, (m: TimeoutMessage) => this.#timedOut(m));
    this.#on(diagnostics.eventError, (m: EventErrorMessage) => this.#failedHere(m));
    this.#on(diagnostics.roundtrip, (m: RoundtripMessage) => this.#roundtrip(m));
    this.#on(diagnostics.handled, (m: HandledMessage) => this.#handled(m));
    this.#on(diagnostics.heartbeatRtt, (m: TimingMessage) => this.#timing('heartbeat.rtt', m.ms, this.prometheus.heartbeatRtt));
    this.#on(diagnostics.lateReply, () => this.prometheus.counters.lateReply.inc());
    this.#on(diagnostics.job, (m: JobMessage) => this.#job(m));
    this.#on(diagnostics.hold, (m: HoldMessage) => this.#hold(m));
    this.#on(diagnostics.stream, (m: StreamMessage) => this.#streamEnded(m));
    this.#on(diagnostics.cluster, (m: ClusterMessage) => {
      this.#statsd?.increment(`cluster.${m.count}`);
      this.prometheus.cluster[m.count].inc();
    });
  }

  #on<M extends OwnedMessage>(channel: Channel, listener: (message: M) => void): void {
    const filtered = (message: unknown): void => {
      if ((message as OwnedMessage).owner === this.#options.owner) listener(message as M);
    };
    channel.subscribe(filtered);
    this.#unsubscribe.push(() => channel.unsubscribe(filtered));
  }

  #count(statsdName: string, counter: keyof PrometheusMetrics['counters']): void {
    this.#statsd?.increment(statsdName);
    this.prometheus.counters[counter].inc();
  }

  #timing(statsdName: string, ms: number, histogram: { observe(value: number): void }): void {
    this.#statsd?.timing(statsdName, round(ms));
    histogram.observe(ms / 1000);
  }

  #gaugeConnections(): void {
    const open = this.#options.connections();
    this.#statsd?.gauge('connections', open);
    this.prometheus.connections.set(open);
  }

  #connected(): void {
    this.#count('connect.success', 'connectSuccess');
    this.#gaugeConnections();
  }

  #disconnected(m: DisconnectMessage): void {
    this.closed.add(m.peer, m.address, m.reason, false);
    this.#count('connection.closed', 'connectionClosed');
    this.#gaugeConnections();
  }

  #roundtrip(m: RoundtripMessage): void {
    this.#timing('event.roundtrip', m.ms, this.prometheus.roundtrip);
    this.calls.add('out', m, m.status >= 400);
    this.#logger.info(
      { requestId: m.requestId, peer: m.peer, handler: m.handlerName, durationMs: round(m.ms), returnCode: m.returnCode, status: m.status },
      'event done',
    );
  }

  #timedOut(m: TimeoutMessage): void {
    this.#count('event.timeout', 'eventTimeout');
    this.calls.add('out', m, true);
    this.#logger.warn({ requestId: m.requestId, peer: m.peer, handler: m.handlerName }, 'event timed out');
  }

  #failedHere(m: EventErrorMessage): void {
    this.#count('event.error', 'eventError');
    // A far-side exception is in the log already, from its roundtrip.
    if (!m.answered) this.calls.add('out', m, true);
    this.#logger.warn({ requestId: m.requestId, peer: m.peer, handler: m.handlerName, code: m.code }, 'event failed');
  }

  /** SPEC §12: one line per stream's end, a warning when it was aborted; `P.stream.end|stopped|aborted`. */
  #streamEnded(m: StreamMessage): void {
    this.#statsd?.increment(`stream.${m.outcome}`);
    const fields = { requestId: m.requestId, peer: m.peer, direction: m.direction, body: m.body, bytes: m.bytes, durationMs: round(m.ms), outcome: m.outcome, code: m.code, reason: m.reason };
    if (m.outcome === 'aborted') this.#logger.warn(fields, 'stream aborted');
    else this.#logger.info(fields, 'stream ended');
  }

  #handled(m: HandledMessage): void {
    const ms = round(m.ms);
    this.#statsd?.timing('event.handle', ms);
    if (m.handlerName) this.#statsd?.timing(`event.handle.${metricSafe(m.handlerName)}`, ms);
    this.prometheus.observeHandle(m.handlerName || 'none', m.ms / 1000);
    this.calls.add('in', m, m.status >= 400);
    if (m.failed) this.#count('event.error', 'eventError');
    this.#logger.info(
      { requestId: m.requestId, peer: m.peer, handler: m.handlerName, durationMs: round(m.ms), returnCode: m.returnCode, failed: m.failed },
      'event handled',
    );
  }

  /** SPEC §8: `P.job.EVENT` and the `P.jobs.pending` gauge; a log line for each end. */
  #job(m: JobMessage): void {
    this.#statsd?.increment(`job.${m.event}`);
    this.prometheus.jobs[m.event].inc();
    this.#statsd?.gauge('jobs.pending', m.pending);
    this.prometheus.jobsPending.set(m.pending);
    if (m.event !== 'accepted' && m.event !== 'retry') this.#logger.info({ job: m.id, target: m.target, status: m.event }, 'job ended');
  }

  /** SPEC §9: `P.hold.created|approved|denied|expired`, and one log line per transition. */
  #hold(m: HoldMessage): void {
    const counter = m.status === 'pending' ? 'created' : m.status;
    this.#statsd?.increment(`hold.${counter}`);
    this.prometheus.holds[counter].inc();
    this.#logger.info(
      { hold: m.hold, status: m.status, decidedBy: m.decidedBy, peer: m.peer, verb: m.verb, noun: m.noun, requestId: m.requestId, reason: m.reason },
      `hold ${counter}`,
    );
  }

  async close(): Promise<void> {
    for (const off of this.#unsubscribe.splice(0)) off();
    await this.#statsd?.close();
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
