import { describe, expect, it } from 'vitest';
import { DEFAULT_HEARTBEAT_MS, resolvePipeOptions } from './options.js';

const tls = { cert: 'c', key: 'k', ca: 'a' };

describe('options', () => {
  it('fills defaults and freezes the result', () => {
    const o = resolvePipeOptions({ tls });
    expect(o.heartbeatMs).toBe(DEFAULT_HEARTBEAT_MS);
    expect(o.maxEventBytes).toBe(4194304);
    expect(Object.isFrozen(o)).toBe(true);
  });

  it.each([
    [{ heartbeatMs: 0 }, /heartbeatMs/],
    [{ timeoutMs: -1 }, /timeoutMs/],
    [{ maxInFlight: 1.5 }, /maxInFlight/],
    [{ maxEventBytes: 2 ** 33 }, /maxEventBytes/],
  ])('names the bad field in %j', (bad, pattern) => {
    expect(() => resolvePipeOptions({ tls, ...bad })).toThrow(pattern);
  });

  it('requires cert, key and ca', () => {
    expect(() => resolvePipeOptions({ tls: { cert: 'c', key: '', ca: 'a' } })).toThrow(/tls.key/);
  });

  it('allows only TLSv1.3 and TLSv1.2 as the minimum version', () => {
    expect(() => resolvePipeOptions({ tls: { ...tls, minVersion: 'TLSv1.1' as never } })).toThrow(/minVersion/);
  });
});
