/**
 * The data directory belongs to one process: real child processes, real `kill -9`.
 * The lock is SQLite's exclusive `fcntl` lock (see open-database.ts), which the kernel
 * drops with its process, so a crash leaves nothing stale behind.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '@restpipe/errors';
import { Store } from './index.js';
import { killHard, startStoreChild, tempDir, type StoreChild } from './test-support/helpers.js';

let tmp: ReturnType<typeof tempDir>;
let dir: string;
const children: StoreChild[] = [];
beforeEach(() => {
  tmp = tempDir();
  dir = join(tmp.dir, 'client-alice');
});
afterEach(async () => {
  await Promise.all(children.splice(0).map(killHard));
  tmp.remove();
});

function child(mode: string, ...args: string[]): StoreChild {
  const started = startStoreChild(mode, dir, ...args);
  children.push(started);
  return started;
}

describe('one process per data directory', () => {
  it('a second process fails at open (exit 2, one line naming the directory) while the first holds it', async () => {
    const holder = child('hold');
    await holder.waitForLines(1);
    expect(holder.lines[0]).toMatch(/^open \d+$/);

    const second = child('open');
    expect(await second.exited()).toBe(2);
    const message = second.stderr().trim();
    expect(message).toBe(`data directory ${dir} is in use by another process (${join(dir, 'restpipe.db')} is locked)`);
    expect(second.lines).toEqual([]);

    // This process is a second owner too.
    expect(() => Store.open(dir)).toThrow(StoreError);
  });

  it('after kill -9 of the owner a new open succeeds: no stale lock', async () => {
    const holder = child('hold');
    await holder.waitForLines(1);
    expect(() => Store.open(dir)).toThrow(/in use by another process/);

    await killHard(holder);
    expect(holder.child.signalCode).toBe('SIGKILL');
    // The crash left its WAL behind; the next owner recovers it.
    expect(existsSync(join(dir, 'restpipe.db-wal'))).toBe(true);

    const store = Store.open(dir);
    expect(store.settings.journalMode).toBe('wal');
    store.close();
    const next = child('open');
    expect(await next.exited()).toBe(0);
    expect(next.lines).toEqual(['opened']);
  });

  it('a key begun by a process killed mid-handler is indeterminate to the next one', async () => {
    const runner = child('begin', 'key-1');
    await runner.waitForLines(1);
    expect(runner.lines).toEqual(['new']);
    await killHard(runner);

    const store = Store.open(dir);
    try {
      await expect(store.idempotency.begin('p', 'key-1', 'fingerprint')).resolves.toEqual({ state: 'indeterminate' });
    } finally {
      store.close();
    }
  });
});
