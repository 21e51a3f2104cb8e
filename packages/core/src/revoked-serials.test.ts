/**
 * PipeServer compares serials as the numbers they are: any spelling of one in
 * `revokedSerials` (case, leading zeros) is that serial, and what is no hex serial
 * at all is a ConfigError at once rather than a revocation that never matches.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@restpipe/wire';
import { PipeServer } from './pipe-server.js';

const tls = { cert: 'cert', key: 'key', ca: 'ca' };

describe('revokedSerials', () => {
  it('takes hex in any case, with or without leading zeros', () => {
    expect(() => new PipeServer({ tls, revokedSerials: ['0A', '00ff', 'DeadBeef'] })).not.toThrow();
    expect(new PipeServer({ tls }).reload(tls, ['000a'])).toBe(0);
  });

  it('refuses what is no hex serial, naming it', () => {
    for (const bad of ['', 'zz', '0x0a', '4F:0A']) {
      expect(() => new PipeServer({ tls, revokedSerials: [bad] })).toThrow(ConfigError);
      expect(() => new PipeServer({ tls }).reload(tls, [bad])).toThrow(JSON.stringify(bad));
    }
  });
});
