import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@restpipe/wire';
import { heldInfoOf, heldReply } from './held-reply.js';
import { DEFAULT_HOLD_TTL_MS, hold, isHoldRequest, MAX_HOLD_REASON_LENGTH, MAX_HOLD_TTL_MS } from './hold-request.js';

describe('hold()', () => {
  it('defaults to no reason and one day, and is recognised by its mark', () => {
    const request = hold();
    expect([request.reason, request.ttlMs]).toEqual(['', DEFAULT_HOLD_TTL_MS]);
    expect(isHoldRequest(request)).toBe(true);
    expect(Object.isFrozen(request)).toBe(true);
    for (const other of [true, false, null, undefined, {}, { reason: 'x', ttlMs: 1 }, 'hold']) expect(isHoldRequest(other)).toBe(false);
  });

  it('takes a reason up to 1024 characters and a TTL from 1 ms to 30 days; anything else is InvalidArgumentError', () => {
    expect(hold({ reason: 'r'.repeat(MAX_HOLD_REASON_LENGTH), ttlMs: MAX_HOLD_TTL_MS }).ttlMs).toBe(MAX_HOLD_TTL_MS);
    expect(hold({ ttlMs: 1 }).ttlMs).toBe(1);
    const bad = [{ reason: 'r'.repeat(MAX_HOLD_REASON_LENGTH + 1) }, { reason: 7 as unknown as string }, { ttlMs: 0 }, { ttlMs: 1.5 }, { ttlMs: MAX_HOLD_TTL_MS + 1 }, { ttlMs: Number.NaN }];
    for (const options of bad) expect(() => hold(options), JSON.stringify(options)).toThrow(InvalidArgumentError);
  });
});

describe('the HELD reply', () => {
  it('reads back what heldReply writes', () => {
    const info = { hold: '01HOLD', reason: 'because', expiresAt: new Date(Date.now() + 60_000).toISOString() };
    const reply = heldReply(info);
    expect([reply.status, reply.kind, reply.mimeType]).toEqual([202, 2, 'application/json']);
    expect(heldInfoOf(reply.data)).toEqual(info);
  });
});
