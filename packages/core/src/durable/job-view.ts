/** A job as SPEC §8's routes and `pipe.job(id)` show it: JSON, times in ISO 8601. */
import type { JobInfo, JobStatus } from '@restpipe/store';

export interface JobView {
  readonly job: string;
  readonly status: JobStatus;
  /** `server` or `client/NAME`. */
  readonly target: string;
  readonly verb: string;
  /** The noun's segments joined by `/`: `time/utc`. */
  readonly noun: string;
  readonly attempts: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly expiresAt: string;
  /** The hold id of SPEC §9, or null. */
  readonly hold: string | null;
  readonly result: { readonly status: number; readonly returnCode: number; readonly mimeType: string; readonly bytes: number } | null;
  readonly requestId: string;
}

export function jobView(info: JobInfo): JobView {
  const result = info.result && { status: info.result.status, returnCode: info.result.returnCode, mimeType: info.result.mimeType, bytes: info.result.bytes };
  return {
    job: info.id,
    status: info.status,
    target: info.target,
    verb: info.verb,
    noun: info.noun.join('/'),
    attempts: info.attempts,
    createdAt: new Date(info.createdAt).toISOString(),
    updatedAt: new Date(info.updatedAt).toISOString(),
    expiresAt: new Date(info.expiresAt).toISOString(),
    hold: info.hold,
    result,
    requestId: info.requestId || info.id,
  };
}

/** Statuses after which a job never changes again. */
export function isFinal(status: JobStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'expired' || status === 'cancelled';
}
