/** Real rp-server / rp-client processes for the bench parts that drive the CLIs (jobs, holds). */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, sleep } from './lib.js';

/** A fresh temp dir on the normal disk: /tmp here is ext4, not tmpfs (BENCH_DISK_DIR overrides). */
export const freshDir = (name: string): string => mkdtempSync(join(process.env['BENCH_DISK_DIR'] ?? tmpdir(), `restpipe-bench-${name}-`));

export interface CliNode {
  proc: ChildProcess;
  /** The last lines it wrote to stderr, for an error message. */
  tail(): string;
}

/** `bin` (rp-server or rp-client) with `args`; stdout ignored unless asked for. */
export function startCli(bin: string, args: string[], stdout: 'ignore' | 'pipe' = 'ignore'): CliNode {
  const proc = spawn(process.execPath, [join(ROOT, 'packages/cli/bin', bin), ...args], { cwd: ROOT, stdio: ['ignore', stdout, 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
  return { proc, tail: () => err.trim().split('\n').slice(-3).join('\n') };
}

/** Resolves once `url` answers 2xx; throws if the node exits first, or after 30 s. */
export async function waitOk(url: string, node: CliNode): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (node.proc.exitCode !== null) throw new Error(`bench: ${node.proc.spawnargs[1]} exited: ${node.tail()}`);
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await sleep(100);
  }
  throw new Error(`bench: ${url} never came up`);
}
