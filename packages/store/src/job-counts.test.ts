import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Store, type InsertOutcome } from './index.js';
import { fakeClock, sampleJob, tempDir } from './test-support/helpers.js';

let tmp: ReturnType<typeof tempDir>;
let store: Store;
beforeEach(() => {
  tmp = tempDir();
  store = Store.open(join(tmp.dir, 'd'), { clock: fakeClock().now });
});
afterEach(() => {
  store.close();
  tmp.remove();
});

function idOf(outcome: InsertOutcome): string {
  if (outcome.status !== 'inserted') throw new Error(`expected inserted, got ${outcome.status}`);
  return outcome.job.id;
}

it('counts jobs by status, every status present, each up to the cap', async () => {
  expect(store.jobs.counts()).toEqual({ queued: 0, running: 0, on_hold: 0, succeeded: 0, failed: 0, expired: 0, cancelled: 0 });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(idOf(await store.jobs.insert(sampleJob({ requestId: `r-${i}` }))));
  await store.jobs.start(ids[0]!);
  await store.jobs.cancel(ids[1]!);
  expect(store.jobs.counts()).toMatchObject({ queued: 3, running: 1, cancelled: 1, succeeded: 0 });
  expect(store.jobs.counts(2)).toMatchObject({ queued: 2, running: 1, cancelled: 1 });
});
