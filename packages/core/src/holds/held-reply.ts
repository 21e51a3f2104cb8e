/**
 * The HELD reply of SPEC §9 both ways: what the holding node sends (status 202, JSON
 * `{"hold","reason","expiresAt"}`), and the sender's strict reading of it. A peer's
 * text reaches a job row and a caller's 202 only once checked here.
 */
import { ProtocolError, ReplyKind } from '@restpipe/wire';
import type { HeldInfo } from '../api-types.js';
import type { HoldReply } from './hold-port.js';
import { MAX_HOLD_REASON_LENGTH, MAX_HOLD_TTL_MS } from './hold-request.js';

/** Clocks of two nodes may differ: a hold's expiry is taken up to this far past the longest TTL. */
const EXPIRY_SLACK_MS = 86_400_000;

export const HELD_STATUS = 202;
const HOLD_ID = /^[0-9A-Za-z_-]{1,64}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?Z$/;

export function isHoldId(value: unknown): value is string {
  return typeof value === 'string' && HOLD_ID.test(value);
}

export function heldReply(info: HeldInfo): HoldReply {
  const data = Buffer.from(JSON.stringify({ hold: info.hold, reason: info.reason, expiresAt: info.expiresAt }));
  return { kind: ReplyKind.HELD, status: HELD_STATUS, returnCode: 0, mimeType: 'application/json', data };
}

/** The peer's HELD reply, checked; ProtocolError (502 for that one request) for anything else. */
export function heldInfoOf(raw: Buffer): HeldInfo {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new ProtocolError('the peer answered HELD with a body that is not JSON');
  }
  const { hold, reason, expiresAt } = (parsed ?? {}) as Record<string, unknown>;
  if (!isHoldId(hold)) throw new ProtocolError('the peer answered HELD without a valid hold id');
  if (typeof reason !== 'string' || reason.length > MAX_HOLD_REASON_LENGTH) throw new ProtocolError('the peer answered HELD with a bad reason');
  if (typeof expiresAt !== 'string' || !ISO_TIME.test(expiresAt) || Number.isNaN(Date.parse(expiresAt))) {
    throw new ProtocolError('the peer answered HELD with a bad expiresAt');
  }
  // A peer's number is bounded as ours are (SPEC §7): a job must not be kept waiting past any hold's longest life.
  if (Date.parse(expiresAt) > Date.now() + MAX_HOLD_TTL_MS + EXPIRY_SLACK_MS) {
    throw new ProtocolError(`the peer answered HELD with an expiresAt past the longest hold (${MAX_HOLD_TTL_MS} ms)`);
  }
  return { hold, reason, expiresAt };
}
