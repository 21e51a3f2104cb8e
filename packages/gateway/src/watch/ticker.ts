import { randomUUID } from 'node:crypto';
import type { HoldsApi } from '../hold-routes.js';
import type { JobsApi } from '../jobs-api.js';
import { jobView, type ClientInfo } from '@restpipe/core';
import { clusterNodeOf, type NodeStatus } from '../admin-routes.js';
import { clientList } from './client-list.js';
import { holdSummary } from './hold-summary.js';
import { nodeHealth } from './node-health.js';
import type { WatchSource } from './watch-types.js';

/** As the store's JobStore counts (gateway does not depend on the store). */
export const JOB_COUNT_CAP = 10_000;
export const TICK_MS = 1000;
/** A page that (re)connects gets this much history at once. */
const FIRST_EVENTS = 200;
const FIRST_CLOSED = 100;
const LIST_ROWS = 50;

export interface TickSources {
  status: NodeStatus;
  watch: WatchSource;
  jobs: () => JobsApi | undefined;
  holds: () => HoldsApi | undefined;
  software: string;
}

/** A page watching: `ready` says whether it can take a tick now (its socket is not full). */
export interface Watcher {
  ready(): boolean;
  send(data: string): void;
}

interface Subscriber {
  watcher: Watcher;
  eventSeq: number;
  closedSeq: number;
  fresh: boolean;
}

/**
 * One snapshot a second for every open `/_rp/stream`, made and serialised once and shared;
 * each page gets the events and closed connections it has not taken yet. The timer runs
 * only while someone watches, so an idle node pays nothing for its dashboard.
 */
export class Ticker {
  readonly #subscribers = new Set<Subscriber>();
  readonly #startedAt = Date.now();
  readonly #instance = randomUUID();
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(private readonly sources: TickSources, private readonly onError: (error: unknown) => void = () => undefined) {}

  get watching(): number {
    return this.#subscribers.size;
  }

  /** `send` gets a tick's JSON at once and then every second, until the returned function is called. */
  subscribe(watcher: Watcher): () => void {
    const subscriber: Subscriber = { watcher, eventSeq: 0, closedSeq: 0, fresh: true };
    this.#subscribers.add(subscriber);
    this.#timer ??= setInterval(() => void this.#tick(), TICK_MS);
    // Its first tick, unless the timer's came first (this one may be older).
    this.#snapshot().then((shared) => subscriber.fresh && this.#deliver(subscriber, shared)).catch(this.onError);
    return () => {
      this.#subscribers.delete(subscriber);
      if (this.#subscribers.size === 0) this.stop();
    };
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #tick(): Promise<void> {
    // A slow snapshot (a cluster's clients over NATS) is never stacked up behind another.
    if (this.#running) return;
    this.#running = true;
    try {
      const shared = await this.#snapshot();
      for (const subscriber of this.#subscribers) this.#deliver(subscriber, shared);
    } catch (error) {
      this.onError(error);
    } finally {
      this.#running = false;
    }
  }

  /** `shared`: the snapshot's JSON without its closing brace. */
  #deliver(subscriber: Subscriber, shared: string): void {
    // A page that cannot take it now costs nothing: it gets what it missed (from the rings, while they hold it) later.
    if (!this.#subscribers.has(subscriber) || !subscriber.watcher.ready()) return;
    const { calls, closed } = this.sources.watch;
    const [eventSeq, closedSeq] = [calls.lastSeq, closed.lastSeq];
    const events = calls.since(subscriber.eventSeq, subscriber.fresh ? FIRST_EVENTS : undefined);
    const closedNow = closed.since(subscriber.closedSeq, subscriber.fresh ? FIRST_CLOSED : undefined);
    subscriber.watcher.send(`${shared},"events":${JSON.stringify(events)},"closed":${JSON.stringify(closedNow)}}`);
    subscriber.eventSeq = eventSeq;
    subscriber.closedSeq = closedSeq;
    subscriber.fresh = false;
  }

  async #snapshot(): Promise<string> {
    const { status, watch, software } = this.sources;
    const snapshot = {
      at: new Date().toISOString(),
      node: nodeHealth(status, software, this.#startedAt, this.#instance),
      clients: await clientsOf(status),
      rates: watch.rates(),
      jobs: this.#jobs(),
      holds: this.#holds(),
    };
    return JSON.stringify(snapshot).slice(0, -1);
  }

  #jobs(): object {
    const jobs = this.sources.jobs();
    if (!jobs) return { enabled: false, counts: {}, list: [] };
    try {
      // Each status counted up to the store's cap: the page shows "10000+".
      return { enabled: true, counts: jobs.counts(), countCap: JOB_COUNT_CAP, list: jobs.list(undefined, LIST_ROWS).map(jobView) };
    } catch (error) {
      return { enabled: true, counts: {}, list: [], error: (error as Error).message };
    }
  }

  #holds(): object {
    const holds = this.sources.holds();
    if (!holds) return { enabled: false, list: [] };
    try {
      const pending = holds.list('pending', LIST_ROWS);
      const rest = pending.length < LIST_ROWS ? holds.list(undefined, LIST_ROWS).filter((h) => h.status !== 'pending') : [];
      return { enabled: true, list: [...pending, ...rest].slice(0, LIST_ROWS).map(holdSummary) };
    } catch (error) {
      return { enabled: true, list: [], error: (error as Error).message };
    }
  }
}

/** A server's clients, online (every node's) then offline; null on a client node. */
async function clientsOf(status: NodeStatus): Promise<object[] | null> {
  if (!status.clients) return null;
  let online: ClientInfo[];
  try {
    online = await status.clients();
  } catch {
    online = [];
  }
  return clientList(online, status.offlineClients?.() ?? [], clusterNodeOf(status));
}
