/**
 * Issue 12, item 5: no import cycle (type-only imports included) and no source file
 * over 500 lines. `.ci/run` runs scripts/check-layout.mjs before `npm test`; this runs
 * the same two functions, so `npm test` shows a developer the same offenders.
 */
import { describe, expect, it } from 'vitest';
import { importCycles, MAX_LINES, oversizedFiles } from '../scripts/check-layout.mjs';

describe('the layout of the tree', () => {
  it('has no import cycle among the modules of packages/*/src', async () => {
    const cycles: string[][] = await importCycles();
    expect(cycles.map((cycle) => [...cycle, cycle[0]].join(' -> '))).toEqual([]);
  });

  it(`has no source file over ${MAX_LINES} lines`, () => {
    expect(oversizedFiles()).toEqual([]);
  });
});
