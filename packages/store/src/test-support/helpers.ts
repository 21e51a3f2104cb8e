/** Temp directories, child processes and a fake clock for the store's tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requestFingerprint } from '../fingerprint.js';
import type { NewHold } from '../hold-types.js';
import type { NewJob } from '../job-types.js';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./store-child.ts', import.meta.url));

/** A fresh directory under the OS temp dir, and a function that removes it. */
export function tempDir(prefix = 'rp-store-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A clock the test moves by hand. */
export function fakeClock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void; set: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms), set: (ms) => void (t = ms) };
}

/** A job to queue, with overrides. */
export function sampleJob(overrides: Partial<NewJob> = {}): NewJob {
  return {
    target: 'client/alice',
    verb: 'post',
    noun: ['orders', 'create'],
    args: ['a1'],
    query: [{ key: 'q', values: ['1', '2'] }],
    mimeType: 'application/json',
    body: Buffer.from('{"n":1}'),
    timeoutMs: 5000,
    requestId: 'req-1',
    ttlMs: 60_000,
    ...overrides,
  };
}

/** The request of `sampleHold()`: its idempotency fingerprint is also its digest. */
const HELD_REQUEST = {
  verb: 'post',
  noun: ['payments', 'send'],
  args: ['acct-7'],
  query: [{ key: 'currency', values: ['EUR'] }],
  body: Buffer.from('{"amount":100}'),
};

/** The idempotency fingerprint of `sampleHold(overrides)`'s request, as the receiving node's gate computes it. */
export function heldFingerprint(overrides: Partial<NewHold> = {}): string {
  const hold = sampleHold(overrides);
  return requestFingerprint({ verb: hold.verb, noun: hold.noun, args: hold.args, query: hold.query, body: hold.body });
}

/** A held event to keep, with overrides. */
export function sampleHold(overrides: Partial<NewHold> = {}): NewHold {
  const base = { ...HELD_REQUEST, ...overrides };
  return {
    peer: 'alice',
    mimeType: 'application/json',
    requestId: 'req-h1',
    timeoutMs: 5000,
    attempt: 1,
    digest: requestFingerprint(base),
    reason: 'payments over 50 EUR need a second pair of eyes',
    ttlMs: 600_000,
    ...base,
  };
}

export interface StoreChild {
  readonly child: ChildProcess;
  /** Complete lines printed to stdout so far. */
  readonly lines: string[];
  stderr(): string;
  /** Resolves once `count` lines are out, or rejects when the child exits first. */
  waitForLines(count: number, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code (or the signal's name). */
  exited(): Promise<number | string>;
}

/** Starts `store-child.ts MODE DIR ...args` through tsx, against the sources. */
export function startStoreChild(mode: string, dir: string, ...args: string[]): StoreChild {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, mode, dir, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exit = new Promise<number | string>((resolve) => child.once('close', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    lines,
    stderr: () => err,
    exited: () => exit,
    waitForLines: (count, timeoutMs = 20_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`child printed ${lines.length} of ${count} lines in ${timeoutMs} ms; stderr: ${err}`)), timeoutMs);
        const check = (): void => {
          if (lines.length >= count) done();
        };
        const onExit = (): void => done(new Error(`child exited after ${lines.length} of ${count} lines; stderr: ${err}`));
        function done(error?: Error): void {
          clearTimeout(timer);
          child.stdout.off('data', check);
          child.off('close', onExit);
          if (error) reject(error);
          else resolve();
        }
        child.stdout.on('data', check);
        child.once('close', onExit);
        check();
      }),
  };
}

/** Sends SIGKILL and waits for the child to be gone. */
export async function killHard(child: StoreChild): Promise<void> {
  if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
  await child.exited();
}
