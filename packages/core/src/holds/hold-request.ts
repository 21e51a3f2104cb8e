/**
 * `hold({ reason, ttlMs })`: what `authorize(ctx)` returns to keep an event for a person's
 * approval instead of running it (SPEC §9).
 */
import { InvalidArgumentError } from '@restpipe/wire';

const HOLD_MARK = Symbol.for('restpipe.Hold');

export const DEFAULT_HOLD_TTL_MS = 86_400_000;
/** Holds last at most 30 days, as the longest approvals of the systems we learn from do. */
export const MAX_HOLD_TTL_MS = 30 * DEFAULT_HOLD_TTL_MS;
export const MAX_HOLD_REASON_LENGTH = 1024;

export interface HoldOptions {
  /** Shown to the approver, the sender and the logs. @default '' */
  reason?: string;
  /** Ms until the hold expires undecided (403 HoldExpiredError). @default 86400000 */
  ttlMs?: number;
}

export interface HoldRequest {
  readonly [HOLD_MARK]: true;
  readonly reason: string;
  readonly ttlMs: number;
}

/** Throws InvalidArgumentError for a reason or TTL the store cannot keep. */
export function hold(options: HoldOptions = {}): HoldRequest {
  const reason = options.reason ?? '';
  const ttlMs = options.ttlMs ?? DEFAULT_HOLD_TTL_MS;
  if (typeof reason !== 'string' || reason.length > MAX_HOLD_REASON_LENGTH) {
    throw new InvalidArgumentError(`a hold's reason must be a string of at most ${MAX_HOLD_REASON_LENGTH} characters`);
  }
  if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_HOLD_TTL_MS) {
    throw new InvalidArgumentError(`a hold's ttlMs must be a whole number of ms from 1 to ${MAX_HOLD_TTL_MS}, got ${String(ttlMs)}`);
  }
  return Object.freeze({ [HOLD_MARK]: true as const, reason, ttlMs });
}

/** From any copy of restpipe: the mark is a registered symbol. */
export function isHoldRequest(value: unknown): value is HoldRequest {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[HOLD_MARK] === true;
}
