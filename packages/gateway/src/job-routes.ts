/**
 * The job routes of SPEC §8: `GET /_rp/jobs/ID`, `GET /_rp/jobs/ID/result`,
 * `DELETE /_rp/jobs/ID` and `GET /_rp/jobs?status=S&limit=N`. Without a data directory
 * they answer 501 NotEnabledError.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  InvalidRequestError,
  isJobStatus,
  JOB_STATUSES,
  JobCancelledError,
  JobExpiredError,
  JobPendingError,
  jobLocation,
  jobView,
  NotEnabledError,
  UnknownJobError,
  type Job,
  type JobStatus,
} from '@restpipe/core';
import type { JobsApi } from './jobs-api.js';
import { RETURN_CODE_HEADER } from './http-errors.js';
import { listLimitOf, singleQueryValue } from './list-query.js';

export { jobLocation };

export function requireJobs(jobs: () => JobsApi | undefined): JobsApi {
  const api = jobs();
  if (!api) throw new NotEnabledError('this node keeps no jobs or idempotency keys (--data-dir off)');
  return api;
}

export function registerJobRoutes(app: FastifyInstance, jobs: () => JobsApi | undefined): void {
  app.get<{ Params: { id: string } }>('/_rp/jobs/:id', async (request) => jobView(infoOf(requireJobs(jobs), request.params.id)));
  app.get<{ Params: { id: string } }>('/_rp/jobs/:id/result', async (request, reply) => {
    const api = requireJobs(jobs);
    const job = api.get(request.params.id);
    if (!job) throw new UnknownJobError(`no job ${request.params.id}`);
    return sendJobResult(reply, job);
  });
  app.delete<{ Params: { id: string } }>('/_rp/jobs/:id', async (request) => jobView(await requireJobs(jobs).cancel(request.params.id)));
  app.get<{ Querystring: Record<string, string | string[]> }>('/_rp/jobs', async (request) => {
    const api = requireJobs(jobs);
    const { status, limit } = listQuery(request.query);
    return api.list(status, limit).map(jobView);
  });
}

function infoOf(api: JobsApi, id: string) {
  const info = api.info(id);
  if (!info) throw new UnknownJobError(`no job ${id}`);
  return info;
}

function listQuery(query: Record<string, string | string[]>): { status: JobStatus | undefined; limit: number } {
  const status = singleQueryValue(query, 'status');
  if (status !== undefined && !isJobStatus(status)) throw new InvalidRequestError(`status must be one of ${JOB_STATUSES.join(', ')}`);
  return { status, limit: listLimitOf(query) };
}

/**
 * The job's reply exactly as the synchronous call would have given it; 409 with
 * Retry-After before its end; 504 JobExpiredError or 410 JobCancelledError when it has none.
 */
export function sendJobResult(reply: FastifyReply, job: Job): FastifyReply {
  if (job.result && job.resultBody) {
    const { result } = job;
    reply.code(result.kind === 0 ? 200 : result.status);
    if (result.kind === 0 || result.returnCode !== 0) reply.header(RETURN_CODE_HEADER, String(result.returnCode));
    if (job.resultBody.length === 0 && !result.mimeType) return reply.send();
    reply.type(result.mimeType || 'application/octet-stream');
    // A failure's envelope goes out as the synchronous call sends it: JSON text (Fastify adds the charset).
    return reply.send(result.kind === 0 ? job.resultBody : job.resultBody.toString('utf8'));
  }
  if (job.status === 'expired') throw new JobExpiredError(`job ${job.id} expired after ${job.attempts} deliveries without a reply`);
  if (job.status === 'cancelled') throw new JobCancelledError(`job ${job.id} was cancelled`);
  reply.header('retry-after', '1');
  throw new JobPendingError(`job ${job.id} is ${job.status}`);
}
