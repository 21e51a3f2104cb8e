import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { Socket } from 'node:net';

/**
 * Leaves nothing behind when the test process dies, however it dies. An 'exit' hook kills the
 * registered processes and removes the registered directories at once; a signal or SIGKILL skips
 * that hook, so a small watchdog process also holds the list and does the same when its stdin
 * (a pipe from us) closes, which the kernel does when we are gone.
 */

/** The watchdog: one JSON line per change; on end of input, SIGKILL what is left and remove the dirs. */
const WATCHDOG = `
const { rmSync } = require('node:fs');
const pids = new Set();
const dirs = new Set();
let buffered = '';
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  for (let nl = buffered.indexOf('\\n'); nl >= 0; nl = buffered.indexOf('\\n')) {
    const { op, pid, dir } = JSON.parse(buffered.slice(0, nl));
    buffered = buffered.slice(nl + 1);
    if (pid !== undefined) op === 'add' ? pids.add(pid) : pids.delete(pid);
    if (dir !== undefined) op === 'add' ? dirs.add(dir) : dirs.delete(dir);
  }
});
const reap = () => {
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch {} }
  for (const dir of dirs) { try { rmSync(dir, { recursive: true, force: true }); } catch {} }
  process.exit(0);
};
process.stdin.on('end', reap);
process.stdin.on('error', reap);
`;

const pids = new Set<number>();
const dirs = new Set<string>();
let watchdog: ChildProcess | undefined;

function tell(line: { op: 'add' | 'remove'; pid?: number; dir?: string }): void {
  if (!watchdog) {
    watchdog = spawn(process.execPath, ['-e', WATCHDOG], { stdio: ['pipe', 'ignore', 'ignore'] });
    watchdog.unref();
    (watchdog.stdin as unknown as Socket).unref();
    // If the watchdog itself is gone, the 'exit' hook still covers an orderly exit.
    watchdog.stdin?.on('error', () => undefined);
    process.once('exit', reapNow);
  }
  watchdog.stdin?.write(`${JSON.stringify(line)}\n`);
}

function reapNow(): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
}

/** Kill `pid` if this process ends before `forgetProcess(pid)`. */
export function reapProcess(pid: number): void {
  pids.add(pid);
  tell({ op: 'add', pid });
}

export function forgetProcess(pid: number): void {
  pids.delete(pid);
  tell({ op: 'remove', pid });
}

/** Remove `dir` if this process ends before `forgetDir(dir)`. */
export function reapDir(dir: string): void {
  dirs.add(dir);
  tell({ op: 'add', dir });
}

export function forgetDir(dir: string): void {
  dirs.delete(dir);
  tell({ op: 'remove', dir });
}
