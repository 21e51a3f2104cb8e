/**
 * Issue 12, item 7: the public API is an explicit list, checked in as
 * `packages/restpipe/api-report.md`. This fails while the report and the entry
 * point differ (`npm run api-report` rewrites the report; review the diff as an
 * API change), and checks the report against the module as it really loads.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CLASSES } from '@restpipe/errors';
import * as restpipe from 'restpipe';
import { apiExports, renderReport, REPORT } from '../../../scripts/api-report.mjs';

interface ApiExport {
  name: string;
  kind: string;
  runtime: boolean;
}

const exported: ApiExport[] = apiExports();

describe('the public API of restpipe', () => {
  it('is the one checked in as api-report.md (run `npm run api-report` and review the change)', () => {
    expect(renderReport(exported)).toEqual(readFileSync(REPORT, 'utf8'));
  });

  it('has at runtime exactly the names the report says', () => {
    const runtime = exported.filter((e) => e.runtime).map((e) => e.name);
    expect(Object.keys(restpipe).sort()).toEqual([...runtime].sort());
  });

  it('has every error class restpipe raises', () => {
    const missing = Object.keys(ERROR_CLASSES).filter((name) => !(name in restpipe));
    expect(missing).toEqual([]);
  });

  it('has what SPEC §6 names', () => {
    for (const name of ['PipeServer', 'PipeClient', 'EventHandler', 'reply', 'raiseForException', 'PipeFailError']) {
      expect(restpipe).toHaveProperty(name);
    }
  });
});
