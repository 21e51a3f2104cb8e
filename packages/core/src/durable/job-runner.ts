/**
 * Delivery of queued jobs (SPEC §8): a job goes out as soon as its peer is connected, and
 * is retried with backoff on disconnect, timeout or a busy peer until it expires.
 *
 * Nothing polls. Delivery is woken by what can make a job deliverable: a peer connecting,
 * a job queued, a delivery ending, and one timer armed for the earliest future retry or
 * expiry. A job due for a peer that is away waits for that peer's connect.
 *
 * Every status change is written through the store's group commit before it counts: a
 * job is `running` (and its attempt counted) before its event is sent, and its result is
 * kept before anyone is told. A node killed at any point leaves a job queued or running,
 * and a running one is queued again at the next start (recoverRunning), to be delivered
 * with the same idempotency key.
 */
import type { DueJob, Job, JobInfo, JobResult, JobStore } from '@restpipe/store';
import type { HeldInfo, PipeRequest, PipeResponse } from '../api-types.js';
import type { Logger } from '../logger.js';
import { IndeterminateError, StoreFullError } from '@restpipe/wire';
import { deliveryRequest, isRetryable, resultOfFailure, resultOfResponse, retryDelayMs, wasNeverSent } from './job-request.js';

/** The result of a job whose deliveries all ended without an outcome. */
function unknownOutcome() {
  return resultOfFailure(new IndeterminateError('the job expired after deliveries whose outcome never came back: it may or may not have run'));
}

/** What delivery needs of the node. Targets are `server` or `client/NAME`. */
export interface DeliveryHost {
  connectedTargets(): Iterable<string>;
  isConnected(target: string): boolean;
  send(target: string, request: PipeRequest): Promise<PipeResponse>;
}

export type JobChange = 'succeeded' | 'failed' | 'expired' | 'retry';

export interface RunnerHooks {
  /** A job changed: for metrics and logs. */
  changed(change: JobChange, job: JobInfo | { readonly id: string; readonly target: string }): void;
  /** A job reached its end (succeeded, failed, expired) or went on hold: for those waiting on it. */
  settled(id: string): void;
  /** The peer answered HELD (SPEC §9): the job waits on its hold. Resolves the job on hold, or undefined. */
  held(job: Job, held: HeldInfo): Promise<Job | undefined>;
}

export interface RunnerSettings {
  /** Deliveries at once per peer. */
  readonly perTarget: number;
  /** Request bodies held by deliveries at once, all peers together (one delivery always may). @default 64 MiB */
  readonly maxBytes?: number;
  readonly clock: () => number;
}

/** After a store write fails (a full disk), how long before anything is tried again. */
const TROUBLE_PAUSE_MS = 1_000;
const MAX_TIMER_MS = 2_147_483_647;
/** Request bodies job deliveries hold at once, node-wide, unless set. */
export const DEFAULT_DELIVERY_BYTES = 64 * 1024 * 1024;

export class JobRunner {
  readonly #jobs: JobStore;
  readonly #host: DeliveryHost;
  readonly #hooks: RunnerHooks;
  readonly #logger: Logger;
  readonly #settings: RunnerSettings;
  /** Ids being delivered now, and how many per target. */
  readonly #delivering = new Set<string>();
  readonly #perTarget = new Map<string, number>();
  /** Their bodies' bytes, and the peers that had a job waiting for room within maxBytes. */
  #bytes = 0;
  readonly #waitingForRoom = new Set<string>();
  /** Of those, the ones whose start is not committed yet: still `queued` in the file. */
  readonly #starting = new Map<string, number>();
  /** Targets to pump at the end of this turn: many accepts of one turn pump once. */
  readonly #toPump = new Set<string>();
  #pumpScheduled = false;
  /** Writes that failed (disk full), to be tried again; each is idempotent. */
  readonly #unsaved = new Map<string, () => Promise<unknown>>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #troubleUntil = 0;
  #stopped = false;
  /** Set once recoverRunning has committed: before it, a job the last run left running could go out twice at once. */
  #recovered = false;

  constructor(jobs: JobStore, host: DeliveryHost, hooks: RunnerHooks, logger: Logger, settings: RunnerSettings) {
    this.#jobs = jobs;
    this.#host = host;
    this.#hooks = hooks;
    this.#logger = logger;
    this.#settings = settings;
  }

  /** Jobs being delivered now. */
  get delivering(): number {
    return this.#delivering.size;
  }

  /** Queues again the jobs that were running when the node stopped, then delivers what is due. */
  async start(): Promise<void> {
    let recovered: string[];
    try {
      recovered = await this.#jobs.recoverRunning();
    } catch (error) {
      if (this.#stopped) return;
      this.#logger.error({ err: (error as Error)?.message ?? String(error) }, `jobs: could not recover the jobs left running; trying again in ${TROUBLE_PAUSE_MS} ms`);
      setTimeout(() => void this.start(), TROUBLE_PAUSE_MS);
      return;
    }
    this.#recovered = true;
    if (recovered.length > 0) this.#logger.info({ jobs: recovered.length }, 'jobs that were running at the last stop are queued again, same keys');
    await this.#expireDue();
    if (!this.#stopped) this.pumpAll();
  }

  /** Wakes delivery for every connected peer. */
  pumpAll(): void {
    for (const target of this.#host.connectedTargets()) this.wake(target);
    this.#arm();
  }

  /** Wakes delivery for one peer at the end of this turn (it connected, or a job for it was queued). */
  wake(target: string): void {
    if (this.#stopped) return;
    this.#toPump.add(target);
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      if (!this.#recovered) return; // start() pumps every connected peer once it has recovered
      const targets = [...this.#toPump];
      this.#toPump.clear();
      for (const t of targets) this.#pump(t);
      this.#arm();
    });
  }

  /** No more deliveries or writes; those under way end without touching the store. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #pump(target: string): void {
    if (this.#stopped || !this.#host.isConnected(target) || this.#clock() < this.#troubleUntil) return;
    const busy = this.#perTarget.get(target) ?? 0;
    const room = this.#settings.perTarget - busy;
    if (room <= 0) return;
    // Jobs whose start is not committed yet are still queued in the file: ask for enough to skip them.
    const due = this.#jobs.due(this.#clock(), room + (this.#starting.get(target) ?? 0), target);
    let started = 0;
    const maxBytes = this.#settings.maxBytes ?? DEFAULT_DELIVERY_BYTES;
    for (const job of due) {
      if (started >= room) break;
      if (this.#delivering.has(job.id)) continue;
      if (this.#bytes > 0 && this.#bytes + job.bodyBytes > maxBytes) {
        this.#waitingForRoom.add(target); // woken when a delivery ends and gives its bytes back
        break;
      }
      started += 1;
      this.#deliver(job);
    }
  }

  #deliver(queued: DueJob): void {
    const target = queued.target;
    this.#delivering.add(queued.id);
    this.#bytes += queued.bodyBytes;
    this.#perTarget.set(target, (this.#perTarget.get(target) ?? 0) + 1);
    void this.#attempt(queued).finally(() => {
      this.#delivering.delete(queued.id);
      this.#bytes -= queued.bodyBytes;
      for (const waiting of this.#waitingForRoom) this.wake(waiting);
      this.#waitingForRoom.clear();
      const left = (this.#perTarget.get(target) ?? 1) - 1;
      if (left > 0) this.#perTarget.set(target, left);
      else this.#perTarget.delete(target);
      this.wake(target);
    });
  }

  async #attempt(queued: JobInfo): Promise<void> {
    let job: Job | undefined;
    const target = queued.target;
    this.#starting.set(target, (this.#starting.get(target) ?? 0) + 1);
    try {
      job = await this.#jobs.start(queued.id);
    } catch (error) {
      return this.#trouble('start a job', error);
    } finally {
      const left = (this.#starting.get(target) ?? 1) - 1;
      if (left > 0) this.#starting.set(target, left);
      else this.#starting.delete(target);
    }
    if (!job || this.#stopped) return; // cancelled or expired meanwhile; or stopping: queued again at the next start
    const now = this.#clock();
    const timeoutMs = Math.min(job.timeoutMs, job.expiresAt - now);
    if (timeoutMs < 1) {
      await this.#save(job.id, () => this.#jobs.retry(job.id, now, false)); // not sent: it expires at the next check
      return;
    }
    let response: PipeResponse;
    try {
      response = await this.#host.send(job.target, deliveryRequest(job, timeoutMs));
    } catch (error) {
      return this.#failed(job, error);
    }
    if (response.held) return this.#held(job, response.held);
    return this.#finish(job, () => this.#jobs.complete(job.id, this.#keepable(resultOfResponse(response))));
  }

  async #held(job: Job, held: HeldInfo): Promise<void> {
    if (this.#stopped) return;
    await this.#save(job.id, async () => {
      const onHold = await this.#hooks.held(job, held);
      if (onHold) this.#hooks.settled(onHold.id);
      return onHold;
    });
  }

  /** A result the disk has no room for becomes a small StoreFullError failure: the job still ends. */
  #keepable(result: JobResult): JobResult {
    if (this.#jobs.resultFits(result.body.length)) return result;
    return resultOfFailure(new StoreFullError(`the reply (${result.body.length} bytes, status ${result.status}) could not be kept: the disk is nearly full`));
  }

  async #failed(job: Job, error: unknown): Promise<void> {
    if (this.#stopped) return;
    if (!isRetryable(error)) return this.#finish(job, () => this.#jobs.complete(job.id, this.#keepable(resultOfFailure(error))));
    const at = Math.min(this.#clock() + retryDelayMs(job.attempts), job.expiresAt);
    this.#hooks.changed('retry', job);
    const sent = !wasNeverSent(error);
    await this.#save(job.id, () => this.#jobs.retry(job.id, at, sent));
  }

  /** The end of a job: written (now, or by a retry of the write once the disk has room), then told. */
  async #finish(job: Job, write: () => Promise<Job | undefined>): Promise<void> {
    if (this.#stopped) return;
    await this.#save(job.id, async () => {
      const done = await write();
      if (done) {
        this.#hooks.changed(done.status === 'succeeded' ? 'succeeded' : 'failed', done);
        this.#hooks.settled(done.id);
      }
      return done;
    });
  }

  /** A write, kept to be tried again if it fails (the job stays as the file has it meanwhile). */
  async #save<T>(id: string, write: () => Promise<T>): Promise<T | undefined> {
    try {
      const result = await write();
      this.#unsaved.delete(id);
      return result;
    } catch (error) {
      if (this.#stopped) return undefined;
      this.#unsaved.set(id, write);
      this.#trouble(`save job ${id}`, error);
      return undefined;
    }
  }

  #trouble(what: string, error: unknown): void {
    if (this.#stopped) return;
    this.#logger.error({ err: (error as Error)?.message ?? String(error) }, `jobs: could not ${what}; trying again in ${TROUBLE_PAUSE_MS} ms`);
    this.#troubleUntil = this.#clock() + TROUBLE_PAUSE_MS;
    this.#arm();
  }

  /**
   * Ends the waiting jobs whose TTL ran out: `expired` when no delivery was made, `failed`
   * with IndeterminateError when one was, and its outcome never came back (the event may
   * have run: a caller must not take "expired" as "never ran").
   */
  async #expireDue(): Promise<void> {
    let ended: Array<{ id: string; target: string; status: string }>;
    try {
      ended = await this.#jobs.expire(this.#clock(), unknownOutcome());
    } catch (error) {
      return this.#trouble('expire jobs', error);
    }
    if (this.#stopped) return;
    for (const { id, target, status } of ended) {
      this.#hooks.changed(status === 'failed' ? 'failed' : 'expired', { id, target });
      this.#hooks.settled(id);
    }
  }

  /** One timer, for the earliest of: the next retry, the next expiry, the end of a store pause. */
  #arm(): void {
    if (this.#stopped) return;
    const now = this.#clock();
    let at = Math.min(this.#jobs.nextDueAfter(now) ?? Infinity, this.#jobs.nextExpiryAt() ?? Infinity);
    if (this.#unsaved.size > 0 || now < this.#troubleUntil) at = Math.max(Math.min(at, this.#troubleUntil || Infinity), this.#troubleUntil);
    if (at === this.#timerAt && this.#timer) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = at;
    if (at === Infinity) return;
    this.#timer = setTimeout(() => this.#onTimer(), Math.min(Math.max(at - now, 0), MAX_TIMER_MS));
  }

  #onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#stopped) return;
    void this.#tick().catch((error: unknown) => this.#trouble('run the job timer', error));
  }

  async #tick(): Promise<void> {
    for (const [id, write] of [...this.#unsaved]) await this.#save(id, write);
    await this.#expireDue();
    if (!this.#stopped) this.pumpAll();
  }

  #clock(): number {
    return this.#settings.clock();
  }
}
