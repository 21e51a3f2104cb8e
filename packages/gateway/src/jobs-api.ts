import type { Enqueued, EnqueueRequest, Job, JobInfo, JobStatus } from '@restpipe/core';

/** What the gateway needs of a node's durable side (core's Durable). */
export interface JobsApi {
  enqueue(target: string, request: EnqueueRequest): Promise<Enqueued>;
  info(id: string): JobInfo | undefined;
  get(id: string): Job | undefined;
  list(status: JobStatus | undefined, limit: number): JobInfo[];
  /** Jobs kept, by status. */
  counts(): Record<JobStatus, number>;
  cancel(id: string): Promise<JobInfo>;
  settled(id: string, timeoutMs: number, signal?: AbortSignal): Promise<JobInfo | undefined>;
}
