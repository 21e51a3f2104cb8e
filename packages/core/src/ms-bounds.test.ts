import { describe, expect, it } from 'vitest';
import { ConfigError } from '@restpipe/wire';
import { MAX_MS, MAX_PEER_HEARTBEAT_MS, resolvePipeOptions } from './options.js';
import { resolveBackoff } from './reconnect.js';

const tls = { cert: 'c', key: 'k', ca: 'a' };
/** heartbeatMs has a bound of its own (below). */
const msFields = ['timeoutMs', 'connectWaitMs', 'handshakeTimeoutMs', 'helloTimeoutMs'] as const;

describe('heartbeatMs is at most MAX_PEER_HEARTBEAT_MS, what peers take from a Hello', () => {
  it('300000 is accepted; 300001 and more are ConfigErrors naming the range', () => {
    expect(MAX_PEER_HEARTBEAT_MS).toBe(300_000);
    expect(resolvePipeOptions({ tls, heartbeatMs: 300_000 }).heartbeatMs).toBe(300_000);
    expect(resolvePipeOptions({ tls, heartbeatMs: 1 }).heartbeatMs).toBe(1);
    for (const bad of [300_001, 3_600_000, MAX_MS, 2 ** 31, 0, NaN]) {
      expect(() => resolvePipeOptions({ tls, heartbeatMs: bad }), String(bad)).toThrow(ConfigError);
      expect(() => resolvePipeOptions({ tls, heartbeatMs: bad }), String(bad)).toThrow(/heartbeatMs must be a whole number from 1 to 300000/);
    }
  });

  it('the other durations keep the 2^31-1 bound', () => {
    expect(resolvePipeOptions({ tls, timeoutMs: 300_001 }).timeoutMs).toBe(300_001);
  });
});

describe('durations in options are at most 2^31-1 ms', () => {
  it.each(msFields)('%s: 2^31-1 is accepted, 2^31 and 2^32-1 are ConfigErrors naming it', (field) => {
    expect(MAX_MS).toBe(2 ** 31 - 1);
    expect(resolvePipeOptions({ tls, [field]: MAX_MS })[field]).toBe(MAX_MS);
    for (const bad of [2 ** 31, 2 ** 32 - 1, NaN, Infinity]) {
      expect(() => resolvePipeOptions({ tls, [field]: bad })).toThrow(new RegExp(`${field} must be a whole number from \\d to 2147483647`));
    }
  });

  it('byte and count limits keep the uint32 bound', () => {
    expect(resolvePipeOptions({ tls, maxEventBytes: 2 ** 31 }).maxEventBytes).toBe(2 ** 31);
    expect(() => resolvePipeOptions({ tls, maxEventBytes: 2 ** 32 })).toThrow(/maxEventBytes/);
  });

  it('reconnect backoff: whole ms from 1 to 2^31-1, min not above max, a factor of at least 1', () => {
    expect(resolveBackoff(undefined)).toEqual({});
    expect(resolveBackoff({ minMs: 20, maxMs: 200 })).toEqual({ minMs: 20, maxMs: 200, factor: 2 });
    expect(resolveBackoff({ minMs: 60_000 })).toEqual({ minMs: 60_000, maxMs: 60_000, factor: 2 });
    for (const bad of [{ minMs: NaN }, { maxMs: 2 ** 31 }, { minMs: 0 }, { minMs: 500, maxMs: 100 }, { factor: 0.5 }, { factor: NaN }]) {
      expect(() => resolveBackoff(bad), JSON.stringify(bad)).toThrow(/reconnect\./);
    }
  });
});
