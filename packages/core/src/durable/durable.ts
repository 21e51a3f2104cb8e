/**
 * A node's durable side (SPEC §8): its store in the data directory, the delivery of its
 * jobs, the records of its peers' idempotency keys, and those who wait on a job's end.
 * PipeServer and PipeClient each own one when given a `dataDir`.
 */
import {
  IdempotencyKeyMismatchError,
  JobQueueFullError,
  JobStateError,
  StoreError,
  UnknownJobError,
} from '@restpipe/wire';
import { isJobId, requestFingerprint, Store, type Job, type JobInfo, type JobStatus, type NewJob } from '@restpipe/store';
import type { HeldInfo, PipeRequest } from '../api-types.js';
import { diagnostics, publish } from '../diagnostics.js';
import type { EventHandler } from '../event-handler.js';
import type { InboundEnv } from '../event-context.js';
import { HoldDesk } from '../holds/hold-desk.js';
import type { Logger } from '../logger.js';
import { HeldJobs } from './held-jobs.js';
import type { IdempotencyGate } from './idempotency-gate.js';
import type { ResolvedDurableOptions } from './durable-options.js';
import { newJobOf, type EnqueueRequest, type JobDefaults } from './job-request.js';
import { JobRunner, type DeliveryHost, type JobChange } from './job-runner.js';
import { isFinal } from './job-view.js';
import { SettleWaiters } from './settle-waiters.js';

/** How often finished idempotency keys past their TTL are deleted. */
const PRUNE_EVERY_MS = 3_600_000;

export type JobEvent = JobChange | 'accepted' | 'cancelled';

/** `restpipe:job`: what happened to a job, and how many are unfinished now. */
export interface JobMessage {
  owner: object;
  event: JobEvent;
  id: string;
  target: string;
  pending: number;
}

/** What the durable side needs of its node: job delivery, and the peers of its holds. */
export interface DurableHost extends DeliveryHost {
  /** Sends HoldNotice to `peer` (a peer name: `server`, or a client's) if connected; false when not. */
  notify(peer: string, hold: string): boolean;
  /** `ctx.peer` and `ctx.pipe` for a held event of `peer`. */
  envFor(peer: string): InboundEnv;
}

export interface DurableInit {
  readonly options: ResolvedDurableOptions & { readonly dataDir: string };
  readonly defaults: JobDefaults;
  /** Deliveries at once per peer. */
  readonly perTarget: number;
  readonly host: DurableHost;
  readonly logger: Logger;
  readonly owner: object;
  readonly handler: EventHandler;
  readonly exposeTracebacks: boolean;
}

/** `client/NAME` → `NAME`; `server` stays. */
function peerOf(target: string): string {
  return target.startsWith('client/') ? target.slice('client/'.length) : target;
}

export interface Enqueued {
  readonly job: JobInfo;
  /** An earlier job had this idempotency key and the same request: that job, not a new one. */
  readonly existing: boolean;
}

export class Durable {
  readonly store: Store;
  readonly gate: IdempotencyGate;
  /** The holds of this node (SPEC §9): events of peers kept for approval. */
  readonly holds: HoldDesk;
  readonly #held: HeldJobs;
  readonly #runner: JobRunner;
  readonly #waiters = new SettleWaiters();
  readonly #init: DurableInit;
  readonly #prune: NodeJS.Timeout;

  /** Opens the store (throws StoreError, one line naming the directory, if it cannot). */
  constructor(init: DurableInit) {
    this.#init = init;
    const logger = init.logger;
    this.store = Store.open(init.options.dataDir, {
      idempotencyTtlMs: init.options.idempotencyTtlMs,
      onWarning: (error) => logger.warn({ err: (error as Error)?.message ?? String(error) }, 'store warning'),
    });
    this.gate = this.#makeGate();
    this.#held = new HeldJobs(this.store.jobs, (target) => this.#runner.wake(target), (target, request) => init.host.send(target, request), init.defaults.timeoutMs);
    this.#runner = new JobRunner(this.store.jobs, init.host, {
      changed: (change, job) => this.#publish(change, job.id, job.target),
      settled: (id) => this.#settled(id),
      held: (job, held) => this.#held.held(job, held),
    }, logger, { perTarget: init.perTarget, clock: Date.now });
    const { host } = init;
    this.holds = new HoldDesk({
      store: this.store, handler: init.handler, logger, owner: init.owner, exposeTracebacks: init.exposeTracebacks,
      notify: (peer, hold) => host.notify(peer, hold),
      envFor: (peer) => host.envFor(peer),
    });
    this.#prune = setInterval(() => void this.#pruneKeys(), PRUNE_EVERY_MS).unref();
  }

  /** Recovers what the last run left running, prunes old keys, and delivers what is due. */
  async start(): Promise<void> {
    await this.#pruneKeys();
    await this.holds.start();
    await this.#runner.start();
  }

  /** A peer connected: deliver its jobs, and tell it of the outcomes of its holds here. */
  peerConnected(target: string): void {
    this.#runner.wake(target);
    this.holds.peerConnected(peerOf(target));
    this.#withdraw(target);
  }

  #withdraw(target: string): void {
    if (!this.#init.host.isConnected(target)) return;
    this.#held.withdraw(target).catch((error: unknown) => {
      if (!this.store.closed) this.#init.logger.warn({ target, err: (error as Error)?.message ?? String(error) }, 'jobs: withdrawals of cancelled held jobs failed; sent again at the next connect');
    });
  }

  /** The peer `target` says its hold `hold` has an outcome: the job that waits on it asks for it. */
  holdNotice(target: string, hold: string): void {
    this.#held.notice(target, hold).catch((error: unknown) => {
      if (!this.store.closed) this.#init.logger.warn({ hold, err: (error as Error)?.message ?? String(error) }, 'jobs: a hold notice could not be applied; it is sent again at the next connect');
    });
  }

  /**
   * A synchronous call to `target` was answered HELD: a job is made for it, on hold, so that
   * the outcome has somewhere to go. Resolves the job's id.
   */
  async adoptHeld(target: string, request: PipeRequest, held: HeldInfo): Promise<JobInfo> {
    const job = newJobOf(target, request, this.#init.defaults);
    const outcome = await this.#held.adopt(job, held, this.#init.options.maxJobs);
    if (outcome.status === 'full') {
      throw new JobQueueFullError(`the peer holds the event for approval (hold ${held.hold}), and this node already has ${outcome.unfinished} unfinished jobs to wait on it with`);
    }
    this.#publish('accepted', outcome.job.id, target);
    return outcome.job;
  }

  /** Queues a request as a job for `target`, durably: resolves once it is committed. */
  async enqueue(target: string, request: EnqueueRequest): Promise<Enqueued> {
    const job = newJobOf(target, request, this.#init.defaults);
    const outcome = await this.store.jobs.insert(job, { maxUnfinished: this.#init.options.maxJobs });
    if (outcome.status === 'full') {
      throw new JobQueueFullError(`this node already has ${outcome.unfinished} unfinished jobs (--max-jobs ${this.#init.options.maxJobs})`);
    }
    if (outcome.status === 'duplicate') {
      if (fingerprintOf(outcome.job) !== fingerprintOf(job)) throw new IdempotencyKeyMismatchError('this idempotency key was used for another job');
      return { job: outcome.job, existing: true };
    }
    this.#publish('accepted', outcome.job.id, target);
    this.#runner.wake(target);
    return { job: outcome.job, existing: false };
  }

  /** The job without its bodies; undefined for an unknown (or malformed) id. */
  info(id: string): JobInfo | undefined {
    this.#checkOpen();
    return isJobId(id) ? this.store.jobs.info(id) : undefined;
  }

  /** The whole job, its result's body included. */
  get(id: string): Job | undefined {
    this.#checkOpen();
    return isJobId(id) ? this.store.jobs.get(id) : undefined;
  }

  /** Jobs kept, by status (SPEC §13's dashboard). */
  counts(): Record<JobStatus, number> {
    this.#checkOpen();
    return this.store.jobs.counts();
  }

  list(status: JobStatus | undefined, limit: number): JobInfo[] {
    this.#checkOpen();
    return this.store.jobs.list(status === undefined ? { limit } : { status, limit });
  }

  /** After close (a drain), reads are StoreError (503), never a TypeError from a closed file. */
  #checkOpen(): void {
    if (this.store.closed) throw new StoreError('the node is shutting down: its store is closed');
  }

  /** Cancels a queued or held job: UnknownJobError, or JobStateError once it runs or ended. */
  async cancel(id: string): Promise<JobInfo> {
    const before = this.info(id);
    if (!before) throw new UnknownJobError(`no job ${id}`);
    const cancelled = await this.store.jobs.cancel(id);
    if (!cancelled) {
      const now = this.info(id);
      throw new JobStateError(`job ${id} is ${now?.status ?? before.status}; only a queued or held job can be cancelled`);
    }
    this.#publish('cancelled', id, cancelled.target);
    this.#settled(id);
    if (cancelled.hold) this.#withdraw(cancelled.target);
    return cancelled;
  }

  /** Resolves with the job once it has ended or is on hold, or after `timeoutMs` (or `signal`) with it as it is then. */
  async settled(id: string, timeoutMs: number, signal?: AbortSignal): Promise<JobInfo | undefined> {
    const now = this.info(id);
    if (!now || isFinal(now.status) || now.status === 'on_hold' || timeoutMs <= 0) return now;
    await this.#waiters.wait(id, timeoutMs, signal);
    // Closed meanwhile (a drain woke every waiter): the job is safe on disk; answer with what was known.
    return this.store.closed ? now : this.info(id);
  }

  /** Jobs queued, running or on hold (0 once closed). */
  get unfinished(): number {
    return this.store.closed ? 0 : this.store.jobs.countUnfinished();
  }

  /** A drain: approved handlers running now may finish within `ms` (their outcomes kept); no new decision is taken. */
  drain(ms: number): Promise<void> {
    return this.holds.drain(ms);
  }

  /** Stops delivery (deliveries under way are left running in the file: queued again at the next start) and closes the store. */
  close(): void {
    this.#runner.stop();
    this.holds.close();
    clearInterval(this.#prune);
    this.#waiters.clear();
    this.store.close();
  }

  #settled(id: string): void {
    this.#waiters.notify(id);
  }

  #publish(event: JobEvent, id: string, target: string): void {
    if (!diagnostics.job.hasSubscribers) return;
    const message: JobMessage = { owner: this.#init.owner, event, id, target, pending: this.unfinished };
    publish(diagnostics.job, message);
  }

  /** Idempotency keys past their TTL, and jobs that ended as long ago (their results are kept as long as keys are). */
  async #pruneKeys(): Promise<void> {
    try {
      const now = Date.now();
      const before = now - this.#init.options.idempotencyTtlMs;
      const [pruned, jobs, holds] = await Promise.all([
        this.store.idempotency.prune(now),
        this.store.jobs.pruneFinished(before),
        this.store.holds.prune(before),
      ]);
      if (pruned + jobs + holds > 0) this.#init.logger.info({ keys: pruned, jobs, holds }, 'idempotency keys, finished jobs and decided holds past their TTL deleted');
    } catch (error) {
      if (!this.store.closed) this.#init.logger.warn({ err: (error as Error).message }, 'could not prune idempotency keys');
    }
  }

  #makeGate(): IdempotencyGate {
    const { idempotency } = this.store;
    const logger = this.#init.logger;
    return {
      begin: (peer, key, fingerprint) => idempotency.begin(peer, key, fingerprint),
      finish: (peer, key, reply) =>
        idempotency.finish(peer, key, reply).then(
          () => undefined,
          (error: unknown) => {
            logger.error({ peer, err: (error as Error)?.message ?? String(error) }, 'could not keep the reply of an idempotency key; a repeat will be refused');
          },
        ),
      abandon: (peer, key) =>
        idempotency.abandon(peer, key).then(
          () => undefined,
          (error: unknown) => {
            logger.error({ peer, err: (error as Error)?.message ?? String(error) }, 'could not let go of an idempotency key without an outcome; a repeat will be refused');
          },
        ),
    };
  }
}

/** A job's request, and where it goes: the same key for another peer is another request. */
function fingerprintOf(job: NewJob | Job): string {
  const request = requestFingerprint({ verb: job.verb, noun: job.noun, args: job.args ?? [], query: job.query ?? [], body: job.body ?? new Uint8Array(0) });
  return `${job.target} ${request}`;
}
