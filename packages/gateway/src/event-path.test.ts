import { describe, expect, it } from 'vitest';
import { parseQuery } from './event-path.js';

describe('parseQuery', () => {
  it('keeps every value of a repeated key, in order', () => {
    expect(parseQuery('a=1&b=x&a=2&a=3')).toEqual({ a: ['1', '2', '3'], b: 'x' });
  });

  it('takes linear time in the repeats of one key (was a copy of the array per repeat)', () => {
    const query = Array.from({ length: 32_000 }, (_, i) => `a=${i % 10}`).join('&');
    const started = performance.now();
    const parsed = parseQuery(query);
    expect(performance.now() - started).toBeLessThan(500); // quadratic: ~6 s
    expect(parsed?.['a']).toHaveLength(32_000);
  });
});
