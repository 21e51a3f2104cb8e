import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, StoreError } from '@restpipe/errors';
import { DATABASE_FILE, Store } from './index.js';
import { APPLICATION_ID, MIGRATIONS, migrate } from './migrations.js';
import { mountTmpfs } from './test-support/mounts.js';
import { sampleHold, sampleJob, tempDir } from './test-support/helpers.js';

let tmp: ReturnType<typeof tempDir>;
let dir: string;
beforeEach(() => {
  tmp = tempDir();
  dir = join(tmp.dir, 'data', 'server-1');
});
afterEach(() => tmp.remove());

/** The StoreError `fn` throws, after checking it is one line naming `named`. */
function storeErrorOf(fn: () => unknown, named = dir): StoreError {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(StoreError);
  const error = caught as StoreError;
  expect(error.code).toBe('RP_ERR_STORE');
  expect(error.message).toContain(named);
  expect(error.message).not.toContain('\n');
  return error;
}

describe('opening a store', () => {
  it('creates the data directory (mode 0700) and restpipe.db in WAL mode with synchronous=FULL', () => {
    const store = Store.open(dir);
    try {
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      expect(existsSync(join(dir, DATABASE_FILE))).toBe(true);
      expect(store.file).toBe(join(dir, DATABASE_FILE));
      expect(store.settings).toMatchObject({ journalMode: 'wal', synchronous: 'full', lockingMode: 'exclusive', schemaVersion: MIGRATIONS.length });
    } finally {
      store.close();
    }
  });

  it('a second Store on the same directory in this process fails at open, naming the directory', () => {
    const first = Store.open(dir);
    const error = storeErrorOf(() => Store.open(dir));
    expect(error.message).toMatch(/in use by another process/);
    first.close();
    Store.open(dir).close();
  });

  it('gives a fresh database the latest schema, each step recorded in schema_migrations; a reopen migrates nothing', () => {
    const store = Store.open(dir);
    expect(store.migratedFrom).toBe(0);
    store.close();
    const raw = new Database(join(dir, DATABASE_FILE));
    expect(raw.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(raw.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(raw.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all()).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
    raw.close();
    const again = Store.open(dir);
    expect(again.migratedFrom).toBe(MIGRATIONS.length);
    again.close();
  });

  it('migrates a version 1 file with its jobs to the latest, adding the per-target due index and moving bodies out', async () => {
    mkdirSync(dir, { recursive: true });
    const raw = new Database(join(dir, DATABASE_FILE));
    migrate(raw, 'f', 0, MIGRATIONS.slice(0, 1));
    raw.prepare(`INSERT INTO jobs (id, target, verb, noun, args, query, mime_type, body, timeout_ms, request_id, idempotency_key,
      status, created_at, updated_at, expires_at, next_attempt_at) VALUES ('j1', 'server', 'get', '["time"]', '[]', '[]', '', x'', 1000, 'r',
      'k1', 'queued', 1, 1, 9999999999999, 1)`).run();
    raw.close();
    const store = Store.open(dir);
    expect(store.migratedFrom).toBe(1);
    expect(store.settings.schemaVersion).toBe(MIGRATIONS.length);
    expect(store.jobs.due(Date.now(), 10, 'server').map((j) => j.id)).toEqual(['j1']);
    store.close();
    const check = new Database(join(dir, DATABASE_FILE));
    expect(check.prepare(`SELECT count(*) AS n FROM sqlite_schema WHERE name = 'jobs_target_due'`).get()).toEqual({ n: 1 });
    check.close();
  });

  it('migrates a version 3 file with its jobs to holds: the jobs are kept, and learn of holds', async () => {
    mkdirSync(dir, { recursive: true });
    const raw = new Database(join(dir, DATABASE_FILE));
    migrate(raw, 'f', 0, MIGRATIONS.slice(0, 3));
    raw.prepare(`INSERT INTO jobs (id, target, verb, noun, args, query, mime_type, timeout_ms, request_id, idempotency_key,
      status, created_at, updated_at, expires_at, next_attempt_at, hold) VALUES ('j1', 'server', 'get', '["time"]', '[]', '[]', '', 1000, 'r',
      'k1', 'queued', 1, 1, 9999999999999, 1, NULL), ('j2', 'client/bob', 'post', '["pay"]', '[]', '[]', '', 1000, 'r',
      'k2', 'on_hold', 1, 1, 9999999999999, 1, 'h1')`).run();
    raw.prepare(`INSERT INTO job_bodies (id, body) VALUES ('j1', x'01'), ('j2', x'0203')`).run();
    raw.prepare(`UPDATE job_counts SET unfinished = 2`).run();
    raw.close();
    const store = Store.open(dir);
    try {
      expect(store.migratedFrom).toBe(3);
      expect(store.settings.schemaVersion).toBe(4);
      expect(store.jobs.get('j1')).toMatchObject({ status: 'queued', hold: null, holdReason: null, holdExpiresAt: null, body: Buffer.from([1]) });
      expect(store.jobs.get('j2')).toMatchObject({ status: 'on_hold', hold: 'h1', holdReason: null, body: Buffer.from([2, 3]) });
      expect(store.jobs.countUnfinished()).toBe(2);
      expect(await store.jobs.releaseHeld('client/bob', 'h1')).toEqual(['j2']);
      expect(store.holds.list({ limit: 10 })).toEqual([]);
      const hold = await store.holds.create(sampleHold());
      expect(store.holds.get(hold.id)?.body.toString()).toBe('{"amount":100}');
    } finally {
      store.close();
    }
    const check = new Database(join(dir, DATABASE_FILE));
    const names = check.prepare(`SELECT name FROM sqlite_schema WHERE name LIKE 'holds%' OR name = 'jobs_target_hold' ORDER BY name`).pluck().all();
    expect(names).toEqual(['holds', 'holds_bodies_delete', 'holds_decided', 'holds_pending_expiry', 'holds_status_id', 'holds_uncollected', 'jobs_target_hold']);
    check.close();
  });

  it('numbers its migrations 1, 2, 3... with no gap', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(Store.schemaVersion).toBe(MIGRATIONS.length);
  });

  it('rolls a failing migration back whole, leaving the version before it', () => {
    mkdirSync(dir, { recursive: true });
    const raw = new Database(join(dir, DATABASE_FILE));
    const broken = [...MIGRATIONS.slice(0, 1), { version: 2, name: 'broken', sql: 'CREATE TABLE half (x); SELECT * FROM no_such_table;' }];
    expect(() => migrate(raw, 'f', 0, broken)).toThrow(/no_such_table/);
    expect(raw.pragma('user_version', { simple: true })).toBe(1);
    expect(raw.prepare(`SELECT count(*) AS n FROM sqlite_schema WHERE name = 'half'`).get()).toEqual({ n: 0 });
    raw.close();
  });

  it('refuses a database from a newer restpipe with a clear error', () => {
    Store.open(dir).close();
    const raw = new Database(join(dir, DATABASE_FILE));
    raw.pragma('user_version = 7');
    raw.close();
    const error = storeErrorOf(() => Store.open(dir));
    expect(error.message).toContain(`schema version 7, newer than this restpipe knows (${MIGRATIONS.length})`);
  });

  it("refuses another program's SQLite database", () => {
    mkdirSync(dir, { recursive: true });
    const raw = new Database(join(dir, DATABASE_FILE));
    raw.exec('CREATE TABLE theirs (x)');
    raw.close();
    expect(storeErrorOf(() => Store.open(dir)).message).toMatch(/not a restpipe database/);
  });

  it('refuses a file of garbage with one clear line', () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, DATABASE_FILE), randomBytes(16384));
    expect(storeErrorOf(() => Store.open(dir)).message).toMatch(/is corrupt or not a restpipe database/);
  });

  it('refuses a database whose pages are damaged', async () => {
    const store = Store.open(dir);
    await Promise.all(Array.from({ length: 300 }, (_, i) => store.jobs.insert(sampleJob({ body: Buffer.alloc(300, i) }))));
    store.close();
    const file = join(dir, DATABASE_FILE);
    const bytes = readFileSync(file);
    expect(bytes.length).toBeGreaterThan(16 * 4096);
    randomBytes(8 * 4096).copy(bytes, 4 * 4096);
    writeFileSync(file, bytes);
    expect(storeErrorOf(() => Store.open(dir)).message).toMatch(/corrupt/);
  });

  it('refuses a directory under a regular file, and one it cannot write', () => {
    writeFileSync(join(tmp.dir, 'plain'), 'x');
    expect(storeErrorOf(() => Store.open(join(tmp.dir, 'plain', 'd')), join(tmp.dir, 'plain', 'd')).message).toMatch(/cannot be created|not a directory/);

    const locked = join(tmp.dir, 'locked');
    mkdirSync(locked);
    // root writes through mode bits, so as root the directory is a read-only mount instead.
    const mounted = process.getuid?.() === 0 ? mountTmpfs(locked, 'ro,size=1m') : undefined;
    if (mounted && !mounted.ok) console.warn(`unwritable dir as root: ${mounted.reason}; using mode 0500, which root ignores`);
    if (!mounted?.ok) chmodSync(locked, 0o500);
    try {
      const error = storeErrorOf(() => Store.open(locked), locked);
      expect(error.message).toMatch(/not writable|cannot open|readonly|read-only/i);
    } finally {
      if (mounted?.ok) mounted.unmount();
      chmodSync(locked, 0o700);
    }
  });

  it('arms no timer while idle', async () => {
    // Counted in this worker alone: the process's active resources include other test files' timers.
    const timeouts = vi.spyOn(globalThis, 'setTimeout');
    const intervals = vi.spyOn(globalThis, 'setInterval');
    const immediates = vi.spyOn(globalThis, 'setImmediate');
    try {
      const store = Store.open(dir);
      expect([timeouts.mock.calls.length, intervals.mock.calls.length, immediates.mock.calls.length]).toEqual([0, 0, 0]);
      await store.jobs.insert(sampleJob());
      const afterWrite = immediates.mock.calls.length; // the write's own turn-end flush
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 20));
      // Idle again: nothing more was scheduled by the store (the two above are this test's own).
      expect([timeouts.mock.calls.length, intervals.mock.calls.length, immediates.mock.calls.length]).toEqual([1, 0, afterWrite + 1]);
      expect(afterWrite).toBeLessThanOrEqual(1);
      store.close();
    } finally {
      timeouts.mockRestore();
      intervals.mockRestore();
      immediates.mockRestore();
    }
  });

  it('names the bad option in a ConfigError', () => {
    expect(() => Store.open(dir, { busyTimeoutMs: -1 })).toThrow(ConfigError);
    expect(() => Store.open(dir, { idempotencyTtlMs: 1.5 })).toThrow(/idempotencyTtlMs/);
    expect(() => Store.open(dir, { maxBytes: -3 })).toThrow(/maxBytes/);
  });

  it('commits what is queued on close, and refuses writes after it', async () => {
    const store = Store.open(dir);
    const queued = store.jobs.insert(sampleJob());
    store.close();
    const { job } = (await queued) as { job: { id: string } };
    await expect(store.jobs.insert(sampleJob())).rejects.toThrow(StoreError);
    store.close();
    const again = Store.open(dir);
    expect(again.jobs.get(job.id)?.status).toBe('queued');
    again.close();
  });
});
