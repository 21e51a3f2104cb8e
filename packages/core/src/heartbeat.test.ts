import { describe, expect, it } from 'vitest';
import { Heartbeat } from './heartbeat.js';

describe('Heartbeat.deadline', () => {
  it('clamps the interval a peer announces to 300000 ms, so a dead peer is still found', () => {
    expect(Heartbeat.deadline(5_000, 0xffff_ffff)).toBe(3 * 300_000);
  });

  it('waits 3 of the longer interval otherwise', () => {
    expect(Heartbeat.deadline(5_000, 1_000)).toBe(15_000);
    expect(Heartbeat.deadline(1_000, 5_000)).toBe(15_000);
    expect(Heartbeat.deadline(1_000, 0)).toBe(3_000);
  });
});
