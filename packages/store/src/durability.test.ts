/**
 * Nothing acknowledged is lost to kill -9: a child queues jobs through the group commit
 * and prints each id only after its promise resolved; we SIGKILL it mid-stream, reopen
 * the store, and look for every id it printed.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from './index.js';
import { killHard, startStoreChild, tempDir, type StoreChild } from './test-support/helpers.js';

let tmp: ReturnType<typeof tempDir>;
let writer: StoreChild | undefined;
beforeEach(() => {
  tmp = tempDir();
});
afterEach(async () => {
  if (writer) await killHard(writer);
  tmp.remove();
});

describe('durability under kill -9', () => {
  it('keeps every job whose insert had resolved when the process was killed', async () => {
    const dir = join(tmp.dir, 'server-1');
    const rounds: string[] = [];
    const acknowledged: string[] = [];
    for (let round = 0; round < 3; round++) {
      writer = startStoreChild('write', dir, '16');
      // Mid-stream: well after the first acks, while 16 writers keep going.
      await writer.waitForLines(300 + 400 * round);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 50)));
      await killHard(writer);
      expect(writer.child.signalCode).toBe('SIGKILL');
      const acked = writer.lines.filter((l) => l.length > 0);
      acknowledged.push(...acked);

      // Every id acknowledged so far, this round's and the earlier rounds'.
      const store = Store.open(dir);
      const missing = acknowledged.filter((id) => store.jobs.get(id)?.status !== 'queued');
      const inStore = store.jobs.countUnfinished();
      store.close();
      rounds.push(`round ${round}: ${acked.length} acknowledged, ${inStore} in store, ${missing.length} missing`);
      expect(missing).toEqual([]);
      expect(inStore).toBeGreaterThanOrEqual(acknowledged.length);
    }
    console.log(`kill -9 durability: ${rounds.join('; ')}; in all ${acknowledged.length} acknowledged, 0 lost`);
  });
});
