import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type JobCounter = 'accepted' | 'succeeded' | 'failed' | 'expired' | 'retry' | 'cancelled';
/** SPEC §9: a hold was made (`created`), or decided. */
export type HoldCounter = 'created' | 'approved' | 'denied' | 'expired';
/** SPEC §11: requests sent to and taken from other nodes, names nobody held, cluster messages dropped. */
export type ClusterCounter = 'forwarded' | 'received' | 'noresponders' | 'dropped';

/** Seconds; from sub-millisecond loopback to a slow handler. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The same counters and timings as StatsD, for `/_rp/metrics`. Names are the
 * StatsD names with `.` as `_`: `restpipe.server.event.sent` is
 * `restpipe_server_event_sent_total`; timings are histograms in seconds.
 */
export class PrometheusMetrics {
  readonly registry = new Registry();
  readonly counters: Record<'connectSuccess' | 'connectFail' | 'connectionClosed' | 'eventSent' | 'eventReceived' | 'eventError' | 'eventTimeout' | 'lateReply', Counter>;
  readonly connections: Gauge;
  /** SPEC §8: `job_accepted_total`... by what happened, and the unfinished jobs now. */
  readonly jobs: Record<JobCounter, Counter>;
  readonly jobsPending: Gauge;
  /** SPEC §9: `hold_created_total`... */
  readonly holds: Record<HoldCounter, Counter>;
  /** SPEC §11: `cluster_forwarded_total`... */
  readonly cluster: Record<ClusterCounter, Counter>;
  readonly roundtrip: Histogram;
  readonly handle: Histogram<'handler'>;
  readonly heartbeatRtt: Histogram;

  /** `jobsPending`, when given, is read at every scrape: the gauge is right before any job changes. */
  constructor(prefix: string, jobsPending?: () => number) {
    const name = (suffix: string): string => `${prefix.replace(/[^A-Za-z0-9_]/g, '_')}_${suffix}`;
    const counter = (suffix: string, help: string): Counter =>
      new Counter({ name: name(`${suffix}_total`), help, registers: [this.registry] });
    const histogram = <L extends string = never>(suffix: string, help: string, labelNames: L[] = []): Histogram<L> =>
      new Histogram<L>({ name: name(`${suffix}_seconds`), help, buckets: BUCKETS, labelNames, registers: [this.registry] });
    this.counters = {
      connectSuccess: counter('connect_success', 'pipe connections established'),
      connectFail: counter('connect_fail', 'pipe connection attempts refused or failed'),
      connectionClosed: counter('connection_closed', 'pipe connections that ended'),
      eventSent: counter('event_sent', 'events sent to the peer'),
      eventReceived: counter('event_received', 'events received from the peer'),
      eventError: counter('event_error', 'events that failed: handler errors here, or local failures of events sent'),
      eventTimeout: counter('event_timeout', 'events sent that got no reply by their deadline'),
      lateReply: counter('event_late_reply', 'replies that arrived after their deadline and were dropped'),
    };
    this.jobs = {
      accepted: counter('job_accepted', 'jobs stored durably and answered 202'),
      succeeded: counter('job_succeeded', 'jobs that ended with a 2xx reply'),
      failed: counter('job_failed', 'jobs that ended with an error reply, or an unknown outcome'),
      expired: counter('job_expired', 'jobs whose TTL ran out before a reply'),
      retry: counter('job_retry', 'job deliveries to be tried again (disconnect, timeout, busy peer)'),
      cancelled: counter('job_cancelled', 'jobs cancelled before delivery'),
    };
    this.holds = {
      created: counter('hold_created', 'events held for approval here'),
      approved: counter('hold_approved', 'holds approved (their handler then ran)'),
      denied: counter('hold_denied', 'holds denied, by a person or by authResponse'),
      expired: counter('hold_expired', 'holds that expired undecided'),
    };
    this.cluster = {
      forwarded: counter('cluster_forwarded', 'requests sent to the node holding their client'),
      received: counter('cluster_received', 'requests taken from another node for a client of this one'),
      noresponders: counter('cluster_noresponders', 'forwarded requests no node answered for (tried again until --connect-wait-ms)'),
      dropped: counter('cluster_dropped', 'cluster messages dropped because they did not parse'),
    };
    this.jobsPending = new Gauge({
      name: name('jobs_pending'),
      help: 'unfinished jobs: queued, running or on hold',
      registers: [this.registry],
      ...(jobsPending ? { collect(this: Gauge) { this.set(jobsPending()); } } : {}),
    });
    this.connections = new Gauge({ name: name('connections'), help: 'open pipe connections', registers: [this.registry] });
    this.roundtrip = histogram('event_roundtrip', 'time from sending an event to its reply');
    this.handle = histogram('event_handle', 'time spent handling an event', ['handler']);
    this.heartbeatRtt = histogram('heartbeat_rtt', 'heartbeat round-trip time');
  }

  readonly #handleByName = new Map<string, { observe(seconds: number): void }>();

  /**
   * Observes a handling time under its handler's label. The labelled child is
   * kept per name (names are bounded by the handler's methods; core reports
   * unknown ones as ''), so no label hashing per event.
   */
  observeHandle(handler: string, seconds: number): void {
    let child = this.#handleByName.get(handler);
    if (!child) this.#handleByName.set(handler, (child = this.handle.labels({ handler })));
    child.observe(seconds);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
