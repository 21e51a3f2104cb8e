import { describe, expect, it } from 'vitest';
import { ConfigError, NonceStoreFullError } from '@restpipe/errors';
import { DEFAULT_MAX_NONCES, NonceStore } from './nonce-store.js';
import { NONCE_TTL_MS } from './params.js';

/** A clock the test moves by hand. */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('NonceStore', () => {
  it('keeps nonces 660 s by default, within 262144 entries', () => {
    const store = new NonceStore();
    expect(store.ttlMs).toBe(660_000);
    expect(store.ttlMs).toBe(NONCE_TTL_MS);
    expect(store.maxEntries).toBe(DEFAULT_MAX_NONCES);
    expect(DEFAULT_MAX_NONCES).toBe(262_144);
  });

  it('stores a nonce once: the second add of it is a replay', () => {
    const store = new NonceStore();
    expect(store.has('k n1')).toBe(false);
    expect(store.add('k n1')).toBe(true);
    expect(store.has('k n1')).toBe(true);
    expect(store.add('k n1')).toBe(false);
    expect(store.add('k n2')).toBe(true);
    expect(store.size).toBe(2);
  });

  it('remembers a nonce for the whole ttl, and forgets it after', () => {
    const time = clock();
    const store = new NonceStore({ now: time.now });
    store.add('k n1');
    time.advance(NONCE_TTL_MS - 1);
    expect(store.has('k n1')).toBe(true);
    expect(store.add('k n1')).toBe(false);
    time.advance(1);
    expect(store.has('k n1')).toBe(false);
    expect(store.add('k n1')).toBe(true);
  });

  it('at the bound refuses new nonces rather than forget a live one, and takes them again once old ones age out', () => {
    const time = clock();
    const store = new NonceStore({ maxEntries: 3, ttlMs: 1_000, now: time.now });
    store.add('a');
    time.advance(100);
    store.add('b');
    store.add('c');
    expect(() => store.add('d')).toThrow(NonceStoreFullError);
    expect(() => store.add('d')).toThrow('this gateway remembers 3 nonces, its bound: try again when older ones age out');
    // Nothing live was dropped to make room: every one is still a replay.
    for (const key of ['a', 'b', 'c']) expect(store.add(key)).toBe(false);
    time.advance(900);
    // 'a' aged out, 'b' and 'c' did not.
    expect(store.add('d')).toBe(true);
    expect(store.add('b')).toBe(false);
    expect(store.size).toBe(3);
    expect(() => store.add('e')).toThrow(NonceStoreFullError);
  });

  it('drops expired nonces from the front as new ones come, so it never holds more than the bound', () => {
    const time = clock();
    const store = new NonceStore({ maxEntries: 1_000, ttlMs: 10_000, now: time.now });
    let added = 0;
    for (let i = 0; i < 20_000; i++) {
      if (store.add(`k ${i}`)) added += 1;
      time.advance(11);
    }
    expect(added).toBe(20_000);
    expect(store.size).toBeLessThanOrEqual(1_000);
    expect(store.size).toBeGreaterThan(900);
  });

  it.each([[{ maxEntries: 0 }], [{ maxEntries: 1.5 }], [{ ttlMs: -1 }]])('refuses the options %j', (options) => {
    expect(() => new NonceStore(options)).toThrow(ConfigError);
  });
});
