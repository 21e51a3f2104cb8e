/**
 * What PipeServer and PipeClient share of the durable side: the Durable opened at start
 * when they have a data directory, `enqueue()` and `job()`, and NotEnabledError without one.
 */
import { NotEnabledError } from '@restpipe/wire';
import type { Logger } from '../logger.js';
import type { ResolvedPipeOptions } from '../options.js';
import { Durable } from './durable.js';
import { resolveDurableOptions, type DurableOptions, type ResolvedDurableOptions } from './durable-options.js';
import type { IdempotencyGate } from './idempotency-gate.js';
import type { EnqueueRequest } from './job-request.js';
import type { DeliveryHost } from './job-runner.js';
import { jobView, type JobView } from './job-view.js';

export interface NodeJobsInit {
  readonly owner: object;
  readonly host: DeliveryHost;
  readonly logger: Logger;
  /** The pipe's options: its default deadline, and its maxInFlight, which bounds deliveries per peer. */
  readonly options: Pick<ResolvedPipeOptions, 'timeoutMs' | 'maxInFlight'>;
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
    });
    this.#durable = durable;
    durable.start().catch((error: unknown) => init.logger.error({ err: (error as Error)?.message ?? String(error) }, 'jobs: recovery at start failed'));
  }

  peerConnected(target: string): void {
    this.#durable?.peerConnected(target);
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

  /** Closes the store; `durable` stays, and answers StoreError (503) from then on, until open() again. */
  close(): void {
    this.#durable?.close();
  }
}
