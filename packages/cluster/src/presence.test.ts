import { describe, expect, it } from 'vitest';
import { newer, Presence } from './presence.js';

describe('Presence', () => {
  it('takes the newest claim of a name: a higher epoch, or the same epoch from a higher node id', () => {
    const p = new Presence('n0');
    expect(p.claim({ name: 'a', node: 'n1', epoch: 10 })).toBe(true);
    expect(p.claim({ name: 'a', node: 'n2', epoch: 9 })).toBe(false);
    expect(p.claim({ name: 'a', node: 'n2', epoch: 10 })).toBe(true);
    expect(p.holder('a')).toEqual({ name: 'a', node: 'n2', epoch: 10 });
    expect(newer({ name: 'a', node: 'n1', epoch: 11 }, { name: 'a', node: 'n2', epoch: 10 })).toBe(true);
  });

  it('makes a new claim of its own newer than every claim it has seen, even from a clock ahead of ours', () => {
    const p = new Presence('n0');
    const ahead = Date.now() + 60_000;
    p.claim({ name: 'a', node: 'n1', epoch: ahead });
    const mine = p.nextEpoch('a');
    expect(mine).toBeGreaterThan(ahead);
    expect(p.nextEpoch('b')).toBeGreaterThan(mine);
  });

  it('lets a release remove only the claim it names', () => {
    const p = new Presence('n0');
    p.claim({ name: 'a', node: 'n1', epoch: 5 });
    p.claim({ name: 'a', node: 'n2', epoch: 6 });
    expect(p.release({ name: 'a', node: 'n1', epoch: 5 })).toBe(false);
    expect(p.heldElsewhere('a')).toBe(true);
    expect(p.release({ name: 'a', node: 'n2', epoch: 6 })).toBe(true);
    expect(p.heldElsewhere('a')).toBe(false);
    expect(p.seen('a')).toBe(true);
  });

  it('repairs itself from heartbeats: a name a node no longer lists is dropped, a new one taken', () => {
    const p = new Presence('n0');
    p.beat('n1', new Date().toISOString(), [{ name: 'a', node: 'n1', epoch: 1 }, { name: 'b', node: 'n1', epoch: 1 }], 0);
    const next = p.beat('n1', new Date().toISOString(), [{ name: 'b', node: 'n1', epoch: 1 }, { name: 'c', node: 'n1', epoch: 2 }], 1000);
    expect(next.claimed).toEqual(['c']);
    expect(next.released.map((c) => c.name)).toEqual(['a']);
    expect([...p.remoteNames()].sort()).toEqual(['b', 'c']);
    expect(p.nodes()).toEqual([expect.objectContaining({ node: 'n1', clients: 2 })]);
  });

  it('forgets a node unheard for too long, with its names, which stay seen', () => {
    const p = new Presence('n0');
    p.beat('n1', new Date().toISOString(), [{ name: 'a', node: 'n1', epoch: 1 }], 0);
    p.beat('n2', new Date().toISOString(), [{ name: 'b', node: 'n2', epoch: 1 }], 3000);
    const gone = p.expire(4000, 3500);
    expect(gone.nodes).toEqual(['n1']);
    expect(gone.released.map((c) => c.name)).toEqual(['a']);
    expect(p.heldElsewhere('a')).toBe(false);
    expect(p.seen('a')).toBe(true);
    expect(p.isNode('n2')).toBe(true);
  });

  it('tells a fresh claim of another node from an old one, and never its own', () => {
    const p = new Presence('n0');
    p.claim({ name: 'a', node: 'n1', epoch: 1 });
    p.claim({ name: 'b', node: 'n0', epoch: 1 });
    expect(p.freshClaim('a', 1000)).toBe(true);
    expect(p.freshClaim('a', 0)).toBe(false);
    expect(p.freshClaim('b', 1000)).toBe(false);
  });
});

describe('Presence, of nodes heard only by their claims', () => {
  it('forgets the claims of a node that never beats, with the node', () => {
    const p = new Presence('n0');
    p.heard('ghost', undefined, 0);
    p.claim({ name: 'a', node: 'ghost', epoch: 1 });
    expect(p.sinceOf('ghost')).toBeUndefined();
    expect(p.expire(4000, 3500).released.map((c) => c.name)).toEqual(['a']);
    expect(p.heldElsewhere('a')).toBe(false);
  });

  it('reads a partial heartbeat as no list of everything the node holds', () => {
    const p = new Presence('n0');
    p.beat('n1', '2026-01-01T00:00:00.000Z', [{ name: 'a', node: 'n1', epoch: 1 }, { name: 'b', node: 'n1', epoch: 1 }], 0);
    expect(p.beat('n1', '2026-01-01T00:00:00.000Z', [{ name: 'a', node: 'n1', epoch: 1 }], 1, true).released).toEqual([]);
    expect(p.heldElsewhere('b')).toBe(true);
    expect(p.sinceOf('n1')).toBe('2026-01-01T00:00:00.000Z');
  });
});
