import { expect, it } from 'vitest';
import type { HoldView } from '@restpipe/core';
import { holdSummary } from './hold-summary.js';

const hold: HoldView = {
  hold: 'h1', status: 'pending', peer: 'node-a', verb: 'post', noun: 'deploy', args: ['v2'], query: { env: 'prod' }, digest: 'd'.repeat(64),
  reason: 'deploy v2', createdAt: '2026-12-01T00:00:00.000Z', expiresAt: '2026-12-01T01:00:00.000Z', decidedBy: null, decidedAt: null,
  decisionReason: null, requestId: 'r1', history: [{ status: 'pending', at: '2026-12-01T00:00:00.000Z', by: null, reason: null }],
};

it('keeps a small hold whole, less its history', () => {
  const { history: _h, ...rest } = hold;
  expect(holdSummary(hold)).toEqual({ ...rest, truncated: false });
});

it('cuts what a peer made large, and says so', () => {
  const big = 'x'.repeat(1 << 20);
  const summary = holdSummary({ ...hold, args: Array.from({ length: 100 }, () => big), query: { q: [big, big] }, reason: big }) as Record<string, any>;
  expect(summary['truncated']).toBe(true);
  expect(JSON.stringify(summary).length).toBeLessThan(6 * 1024);
  expect(summary['args'].length).toBeGreaterThan(0);
  expect(summary['args'][0]).toHaveLength(257);
  expect(summary['query'].q[0]).toHaveLength(257);
});

it('keeps within its budget when JSON escaping makes short text long', () => {
  const escaped = '\x01'.repeat(256);
  const query = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, Array.from({ length: 14 }, () => escaped)]));
  const summary = holdSummary({ ...hold, query }) as Record<string, any>;
  expect(summary['truncated']).toBe(true);
  expect(JSON.stringify(summary).length).toBeLessThan(6 * 1024);
});
