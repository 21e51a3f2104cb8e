import { describe, expect, it } from 'vitest';
import { LazyAbort } from './lazy-abort.js';

describe('LazyAbort', () => {
  it('aborts a signal made after the abort, with the same reason', () => {
    const lazy = new LazyAbort();
    const reason = new Error('deadline');
    lazy.abort(reason);
    expect(lazy.signal.aborted).toBe(true);
    expect(lazy.signal.reason).toBe(reason);
  });

  it('aborts a signal made before the abort, once', () => {
    const lazy = new LazyAbort();
    const seen: unknown[] = [];
    lazy.signal.addEventListener('abort', () => seen.push(lazy.signal.reason));
    lazy.abort('first');
    lazy.abort('second');
    expect(seen).toEqual(['first']);
    expect(lazy.aborted).toBe(true);
  });
});
