/**
 * What PipeServer and PipeClient share of the durable side: the Durable opened at start
 * when they have a data directory, `enqueue()` and `job()`, and NotEnabledError without one.
 */
import { NotEnabledError, ProtocolError } from '@restpipe/wire';
import type { HeldInfo, PipeRequest, PipeResponse } from '../api-types.js';
import type { EventHandler } from '../event-handler.js';
import type { HoldPort } from '../holds/hold-port.js';
import { jobLocation } from './job-location.js';
import type { Logger } from '../logger.js';
import type { ResolvedPipeOptions } from '../options.js';
import { Durable } from './durable.js';
import { resolveDurableOptions, type DurableOptions, type ResolvedDurableOptions } from './durable-options.js';
import type { IdempotencyGate } from './idempotency-gate.js';
import type { EnqueueRequest } from './job-request.js';
import type { DurableHost } from './durable.js';
import { jobView, type JobView } from './job-view.js';
import { readableOf } from '../streams/stream-source.js';

export interface NodeJobsInit {
  readonly owner: object;
  readonly host: DurableHost;
  readonly logger: Logger;
  readonly handler: EventHandler;
  /** The pipe's options: its default deadline, its maxInFlight (which bounds deliveries per peer), its tracebacks. */
  readonly options: Pick<ResolvedPipeOptions, 'timeoutMs' | 'maxInFlight' | 'exposeTracebacks'>;
}

/** Job deliveries at once to one peer (fewer if maxInFlight is lower). */
const JOB_DELIVERIES_PER_PEER = 256;

const OFF = 'this node keeps no jobs (--data-dir off)';

export class NodeJobs {
  readonly options: ResolvedDurableOptions;
  #durable: Durable | undefined;

  constructor(options: DurableOptions) {
    this.options = resolveDurableOptions(options);
  }

  /** The open durable side; undefined when off, or before start. */
  get durable(): Durable | undefined {
    return this.#durable;
  }

  get gate(): IdempotencyGate | undefined {
    return this.#durable?.gate;
  }

  get holds(): HoldPort | undefined {
    return this.#durable?.holds;
  }

  /**
   * Opens the store (once) and starts delivery in the background. Throws StoreError, one
   * line naming the directory, when the directory cannot be used.
   */
  open(init: NodeJobsInit): void {
    const dataDir = this.options.dataDir;
    if ((this.#durable && !this.#durable.store.closed) || dataDir === undefined) return;
    const durable = new Durable({
      options: { ...this.options, dataDir },
      defaults: { timeoutMs: init.options.timeoutMs, jobTtlMs: this.options.jobTtlMs, maxTtlMs: this.options.idempotencyTtlMs },
      perTarget: Math.min(init.options.maxInFlight, JOB_DELIVERIES_PER_PEER),
      host: init.host,
      logger: init.logger,
      owner: init.owner,
      handler: init.handler,
      exposeTracebacks: init.options.exposeTracebacks,
    });
    this.#durable = durable;
    durable.start().catch((error: unknown) => init.logger.error({ err: (error as Error)?.message ?? String(error) }, 'jobs: recovery at start failed'));
  }

  peerConnected(target: string): void {
    this.#durable?.peerConnected(target);
  }

  holdNotice(target: string, hold: string): void {
    this.#durable?.holdNotice(target, hold);
  }

  /**
   * A synchronous call's response; one the peer answered HELD becomes a job on hold
   * (SPEC §9), and the response says so: 202 at a gateway, with the job's Location.
   */
  async settleHeld(target: string, request: PipeRequest, response: PipeResponse): Promise<PipeResponse> {
    if (!response.held) return response;
    // Our Hello said we take holds only with a data directory: a peer that holds anyway broke the protocol.
    if (!this.#durable) throw new ProtocolError('the peer held an event, though this node keeps no jobs to wait on it with');
    const job = await this.#durable.adoptHeld(target, request, response.held);
    return heldResponse(job.id, job.status, response.held);
  }

  /** Queues the request for `target`, durably; resolves with the job id once committed. */
  async enqueue(target: string, request: EnqueueRequest): Promise<string> {
    if (!this.#durable) throw new NotEnabledError(OFF);
    return (await this.#durable.enqueue(target, request)).job.id;
  }

  job(id: string): JobView | undefined {
    if (!this.#durable) throw new NotEnabledError(OFF);
    const info = this.#durable.info(id);
    return info && jobView(info);
  }

  /** A drain: approved handlers running now may finish within `ms`. */
  async drain(ms: number): Promise<void> {
    await this.#durable?.drain(ms);
  }

  /** Closes the store; `durable` stays, and answers StoreError (503) from then on, until open() again. */
  close(): void {
    this.#durable?.close();
  }
}

/** What a caller is answered for a held event: the job that waits on it, in the body SPEC §9 gives. */
function heldResponse(job: string, status: string, held: HeldInfo): PipeResponse {
  const location = jobLocation(job);
  const body = { job, status, hold: held.hold, reason: held.reason, expiresAt: held.expiresAt, location };
  const raw = Buffer.from(JSON.stringify(body));
  return { returnCode: 0, mimeType: 'application/json', raw, data: body, held, job, get stream() { return readableOf(raw); } };
}
