/**
 * The shapes of SPEC §9 approval holds, as the receiving node keeps them. Times are ms
 * since the epoch. When a hold's outcome is set, the receiving node's idempotency record
 * for (peer, key) is set to it too, in the same write.
 */
import type { JobInfo, JobQueryParam } from './job-types.js';

export const HOLD_STATUS = {
  PENDING: 'pending',
  APPROVED: 'approved',
  DENIED: 'denied',
  EXPIRED: 'expired',
} as const;

export type HoldStatus = (typeof HOLD_STATUS)[keyof typeof HOLD_STATUS];

export const HOLD_STATUSES: readonly HoldStatus[] = Object.freeze(Object.values(HOLD_STATUS));

export function isHoldStatus(value: unknown): value is HoldStatus {
  return typeof value === 'string' && (HOLD_STATUSES as readonly string[]).includes(value);
}

/** The most a hold may last: 30 days, as the longest-lived approvals elsewhere do. */
export const MAX_HOLD_TTL_MS = 2_592_000_000;
/** The most characters of a hold's reason, or of a decision's. */
export const MAX_HOLD_REASON_CHARS = 1024;

/** One transition of a hold. */
export interface HoldEntry {
  readonly status: HoldStatus;
  readonly at: number;
  /** Who decided (a key id, `api-key`, `local`); null for the hold's making and its expiry. */
  readonly by: string | null;
  readonly reason: string | null;
}

/** What the receiving node gives to keep a held event. */
export interface NewHold {
  /** The sending peer's name. */
  readonly peer: string;
  readonly verb: string;
  readonly noun: readonly string[];
  readonly args: readonly string[];
  readonly query: readonly JobQueryParam[];
  readonly mimeType: string;
  readonly body: Uint8Array;
  readonly requestId: string;
  /** The event's deadline, in ms: what its handler gets once approved. */
  readonly timeoutMs: number;
  /** The event's idempotency key, if it had one. */
  readonly idempotencyKey?: string | undefined;
  /** The delivery that was held (1 for the first). */
  readonly attempt: number;
  /**
   * Hex sha256 of verb, noun, args, query and body (`requestFingerprint`): what a decision
   * applies to, and what the idempotency record of the event's key compares a repeat with.
   */
  readonly digest: string;
  readonly reason: string;
  /** Ms from now until the hold expires, at most MAX_HOLD_TTL_MS. */
  readonly ttlMs: number;
}

/** A hold without its bodies: what `GET /_rp/holds` shows. */
export interface HoldInfo {
  readonly id: string;
  readonly peer: string;
  readonly status: HoldStatus;
  readonly verb: string;
  readonly noun: readonly string[];
  readonly args: readonly string[];
  readonly query: readonly JobQueryParam[];
  readonly mimeType: string;
  readonly requestId: string;
  readonly timeoutMs: number;
  /** `''` when the event had none. */
  readonly idempotencyKey: string;
  readonly attempt: number;
  readonly digest: string;
  readonly reason: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly decidedBy: string | null;
  readonly decidedAt: number | null;
  readonly decisionReason: string | null;
  /** The reply the sender's job will end with; null until the hold has an outcome. */
  readonly result: JobInfo['result'];
  /** onHold has run. */
  readonly announced: boolean;
  /** The sender has fetched the outcome. */
  readonly collected: boolean;
  readonly history: readonly HoldEntry[];
}

/** A whole hold. */
export interface Hold extends HoldInfo {
  /**
   * The held request's body: in what create(), get() and approve() resolve with (approve's
   * caller runs the handler); empty in what the other transitions resolve with.
   */
  readonly body: Buffer;
  readonly resultBody: Buffer | null;
}

export interface HoldListOptions {
  /** Only holds in this status; all when absent. */
  readonly status?: HoldStatus;
  /** At most this many, newest first. */
  readonly limit: number;
}
