import { describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { parseBeat, parseState } from './messages.js';
import { Publisher } from './publisher.js';
import { BEATS, STATE } from './subjects.js';

/** A connection that records what is published, with a small max_payload, and may refuse. */
function recorder(maxPayload: number, refuse = false) {
  const sent: Array<{ subject: string; data: Uint8Array }> = [];
  const nc = {
    info: { max_payload: maxPayload },
    publish(subject: string, data: Uint8Array) {
      if (refuse || data.length > maxPayload) throw new Error('MAX_PAYLOAD_EXCEEDED');
      sent.push({ subject, data });
    },
  } as unknown as NatsConnection;
  return { nc, sent };
}

const claims = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `client-${String(i).padStart(5, '0')}`, node: 'n0', epoch: 1000 + i }));

describe('Publisher', () => {
  it('sends a heartbeat whole while it fits, marked as the full list', () => {
    const { nc, sent } = recorder(1024 * 1024);
    new Publisher({}, 'n0', '2026-01-01T00:00:00.000Z', () => nc).beat(claims(10));
    expect(sent).toHaveLength(1);
    expect(parseBeat(sent[0]!.data)).toMatchObject({ node: 'n0', partial: false });
    expect(parseBeat(sent[0]!.data).claims).toHaveLength(10);
  });

  it('splits a heartbeat too large for max_payload into partial parts that carry every claim', () => {
    const { nc, sent } = recorder(4096);
    new Publisher({}, 'n0', '2026-01-01T00:00:00.000Z', () => nc).beat(claims(1000));
    expect(sent.length).toBeGreaterThan(1);
    const beats = sent.map((m) => parseBeat(m.data));
    expect(beats.every((b) => b.partial)).toBe(true);
    expect(beats.flatMap((b) => b.claims.map((c) => c.name))).toEqual(claims(1000).map((c) => c.name));
    expect(sent.every((m) => m.subject === BEATS && m.data.length <= 4096)).toBe(true);
  });

  it('splits the state of a join into parts, names seen included', () => {
    const { nc, sent } = recorder(4096);
    const seen = claims(2000).map((c) => c.name);
    new Publisher({}, 'n0', '2026-01-01T00:00:00.000Z', () => nc).state(claims(500), seen);
    const states = sent.map((m) => parseState(m.data));
    expect(sent.every((m) => m.subject === STATE)).toBe(true);
    expect(states.flatMap((s) => s.seen)).toEqual(seen);
    expect(states.flatMap((s) => s.claims).length).toBe(500);
  });

  it('never throws when the connection refuses a message', () => {
    const { nc } = recorder(4096, true);
    expect(() => new Publisher({}, 'n0', '2026-01-01T00:00:00.000Z', () => nc).beat(claims(3))).not.toThrow();
  });
});
