import { afterEach, describe, expect, it } from 'vitest';
import { Store } from './store.js';
import { fakeClock, tempDir } from './test-support/helpers.js';

describe('NonceJournal: the nonces of signed requests, on disk', () => {
  const temp = tempDir('rp-nonces-');
  afterEach(() => temp.remove());

  it('takes a nonce once while it lives, again once it expired, and keeps it across a reopen', async () => {
    const clock = fakeClock();
    let store = Store.open(temp.dir, { clock: clock.now });
    expect(store.nonces.has('ops n1')).toBe(false);
    expect(await store.nonces.add('ops n1', clock.now() + 660_000)).toBe(true);
    expect(await store.nonces.add('ops n1', clock.now() + 660_000)).toBe(false);
    expect(store.nonces.has('ops n1')).toBe(true);
    store.close();

    store = Store.open(temp.dir, { clock: clock.now });
    expect(store.nonces.has('ops n1')).toBe(true);
    clock.advance(660_001);
    expect(store.nonces.has('ops n1')).toBe(false);
    expect(await store.nonces.add('ops n1', clock.now() + 660_000)).toBe(true);
    store.close();
  });
});
