import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as core from './index.js';

describe('error codes', () => {
  it('every RP_ERR_* code is documented in docs/errors.md', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const missing = Object.values(core.ERROR_CODES).filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('every exported error class carries a known code', () => {
    const known = new Set<string>(Object.values(core.ERROR_CODES));
    const classes = Object.values(core).filter(
      (v): v is new (...a: never[]) => core.RpError => typeof v === 'function' && v.prototype instanceof core.RpError,
    );
    expect(classes.length).toBeGreaterThan(20);
    for (const Cls of classes) {
      if (Cls === (core.PipeFailError as unknown)) continue;
      const instance = Reflect.construct(Cls, ['x', 'y']) as core.RpError;
      expect(known.has(instance.code), `${Cls.name} has ${instance.code}`).toBe(true);
    }
  });
});
