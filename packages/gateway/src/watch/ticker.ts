import type { HoldsApi } from '../hold-routes.js';
import type { JobsApi } from '../jobs-api.js';
import type { NodeStatus } from '../admin-routes.js';
import { nodeHealth } from './node-health.js';
import type { WatchSource } from './watch-types.js';

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

interface Subscriber {
  send(data: string): void;
  eventSeq: number;
  closedSeq: number;
  fresh: boolean;
}

/**
 * One snapshot a second for every open `/_rp/stream`, made once and shared; each page
 * gets the events and closed connections it has not seen. The timer runs only while
 * someone watches, so an idle node pays nothing for its dashboard.
 */
export class Ticker {
  readonly #subscribers = new Set<Subscriber>();
  readonly #startedAt = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(private readonly sources: TickSources) {}

  get watching(): number {
    return this.#subscribers.size;
  }

  /** `send` gets a tick's JSON at once and then every second, until the returned function is called. */
  subscribe(send: (data: string) => void): () => void {
    const subscriber: Subscriber = { send, eventSeq: 0, closedSeq: 0, fresh: true };
    this.#subscribers.add(subscriber);
    this.#timer ??= setInterval(() => void this.#tick(), TICK_MS);
    void this.#snapshot().then((shared) => this.#deliver(subscriber, shared), () => undefined);
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
      for (const subscriber of this.#subscribers) if (!subscriber.fresh) this.#deliver(subscriber, shared);
    } finally {
      this.#running = false;
    }
  }

  #deliver(subscriber: Subscriber, shared: Record<string, unknown>): void {
    if (!this.#subscribers.has(subscriber)) return;
    const { calls, closed } = this.sources.watch;
    const events = calls.since(subscriber.eventSeq, subscriber.fresh ? FIRST_EVENTS : undefined);
    const closedNow = closed.since(subscriber.closedSeq, subscriber.fresh ? FIRST_CLOSED : undefined);
    subscriber.eventSeq = calls.lastSeq;
    subscriber.closedSeq = closed.lastSeq;
    subscriber.fresh = false;
    subscriber.send(JSON.stringify({ ...shared, events, closed: closedNow }));
  }

  async #snapshot(): Promise<Record<string, unknown>> {
    const { status, watch, software } = this.sources;
    return {
      at: new Date().toISOString(),
      node: nodeHealth(status, software, this.#startedAt),
      clients: await clientsOf(status),
      rates: watch.rates(),
      jobs: this.#jobs(),
      holds: this.#holds(),
    };
  }

  #jobs(): object {
    const jobs = this.sources.jobs();
    if (!jobs) return { enabled: false, counts: {}, list: [] };
    try {
      return { enabled: true, counts: jobs.counts(), list: jobs.list(undefined, LIST_ROWS) };
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
      return { enabled: true, list: [...pending, ...rest].slice(0, LIST_ROWS) };
    } catch (error) {
      return { enabled: true, list: [], error: (error as Error).message };
    }
  }
}

/** A server's clients, online (every node's) then offline; null on a client node. */
async function clientsOf(status: NodeStatus): Promise<object[] | null> {
  if (!status.clients) return null;
  let online: object[];
  try {
    online = (await status.clients()).map((c) => ({ ...c, online: true }));
  } catch {
    online = [];
  }
  return [...online, ...(status.offlineClients?.() ?? [])];
}
