import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@restpipe/core';
import { resolveConfig } from './config.js';
import { FLAGS } from './flags.js';

const config = (argv: string[]) => {
  const parsed = resolveConfig('server', argv, {});
  if (parsed.help) throw new Error('help');
  return parsed.config;
};

describe('--heartbeat-ms is at most 300000, what peers take from a Hello', () => {
  it('300000 is accepted, 300001 and more are refused naming the range', () => {
    expect(config(['--heartbeat-ms', '300000']).heartbeatMs).toBe(300000);
    for (const bad of ['300001', '3600000', '2147483647', '2147483648']) {
      expect(() => config(['--heartbeat-ms', bad]), bad).toThrow(ConfigError);
      expect(() => config(['--heartbeat-ms', bad]), bad).toThrow(/--heartbeat-ms must be a whole number from 1 to 300000, got "\d+"/);
    }
  });

  it('from the environment and a --config file too', () => {
    expect(() => resolveConfig('client', [], { RP_HEARTBEAT_MS: '300001' })).toThrow(/--heartbeat-ms must be a whole number from 1 to 300000/);
    const dir = mkdtempSync(join(tmpdir(), 'rp-heartbeat-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ heartbeatMs: 600000 }));
    expect(() => resolveConfig('server', ['--config', file], {})).toThrow(/--heartbeat-ms must be a whole number from 1 to 300000/);
  });

  it('--help says the range', () => {
    expect(FLAGS.find((f) => f.name === 'heartbeat-ms')?.help).toMatch(/1 to 300000/);
  });
});

describe('--*-ms flags are at most 2147483647', () => {
  it.each(['timeout-ms', 'connect-wait-ms'])('--%s', (flag) => {
    expect(() => config([`--${flag}`, '2147483647'])).not.toThrow();
    expect(() => config([`--${flag}`, '2147483648'])).toThrow(new RegExp(`--${flag} must be a whole number from \\d to 2147483647`));
    expect(() => config([`--${flag}`, '4294967295'])).toThrow(new RegExp(`--${flag}`));
  });

  it('byte and count flags keep the uint32 bound', () => {
    expect(config(['--max-event-bytes', '2147483648']).maxEventBytes).toBe(2147483648);
    expect(() => config(['--max-event-bytes', '4294967296'])).toThrow(/--max-event-bytes/);
  });
});
