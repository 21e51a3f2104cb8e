import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCa, issueCertificate } from '@restpipe/certs';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer().once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

export function machine(): Record<string, string | number> {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
  };
}

/**
 * Certificates for the bench in `dir`: a CA, a server, and `clients` client
 * certificates c0..cN sharing one key (the storm measures handshakes, not keygen).
 */
export function benchCerts(dir: string, clients: number): void {
  mkdirSync(dir, { recursive: true });
  if (existsSync(join(dir, `c${clients - 1}.crt.pem`))) return;
  const ca = createCa();
  const server = issueCertificate(ca, 'server', { name: 'server' });
  const first = issueCertificate(ca, 'client', { name: 'client' });
  writeFileSync(join(dir, 'ca.crt.pem'), ca.certPem);
  writeFileSync(join(dir, 'server.crt.pem'), server.certPem);
  writeFileSync(join(dir, 'server.key.pem'), server.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'client.crt.pem'), first.certPem);
  writeFileSync(join(dir, 'client.key.pem'), first.keyPem, { mode: 0o600 });
  for (let i = 0; i < clients; i++) {
    writeFileSync(join(dir, `c${i}.crt.pem`), issueCertificate(ca, 'client', { name: `c${i}`, keyPem: first.keyPem }).certPem);
  }
}

export interface Child {
  proc: ChildProcess;
  /** The latest value of each key the child printed. */
  latest: Record<string, unknown>;
  rss(): Promise<number>;
  /** CPU time (user + system) the child has used so far, in ms. */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
  /** Asks the child to exit by itself (so profilers write their files). */
  exit(): Promise<void>;
}

/** Runs `bench/child.ts ROLE ...args` and resolves once it says it is ready. */
export async function child(role: string, args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<Child> {
  const proc = spawn(process.execPath, ['--expose-gc', ...nodeArgs, '--import', 'tsx', join(ROOT, 'bench/child.ts'), role, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const latest: Record<string, unknown> = {};
  let buffer = '';
  const waiters: Array<(m: Record<string, unknown>) => void> = [];
  proc.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        const message = JSON.parse(line) as Record<string, unknown>;
        Object.assign(latest, message);
        for (const w of waiters.splice(0)) w(message);
      } catch {
        /* not ours */
      }
    }
  });
  const next = (key: string): Promise<unknown> =>
    new Promise((resolve) => {
      const wait = (m: Record<string, unknown>): void => {
        if (key in m) resolve(m[key]);
        else waiters.push(wait);
      };
      waiters.push(wait);
    });
  await next('ready');
  return {
    proc,
    latest,
    rss: async () => {
      const answer = next('rss');
      proc.stdin!.write('rss\n');
      return (await answer) as number;
    },
    cpuMs: async () => {
      const answer = next('cpuMs');
      proc.stdin!.write('cpu\n');
      return (await answer) as number;
    },
    exit: async () => {
      if (proc.exitCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.stdin!.write('exit\n');
      await gone;
    },
    stop: async () => {
      if (proc.exitCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await gone;
    },
  };
}

/** Polls until `check` holds; returns the ms it took. */
export async function until(check: () => boolean, timeoutMs: number, what: string): Promise<number> {
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > timeoutMs) throw new Error(`bench: ${what} not reached in ${timeoutMs} ms`);
    await sleep(10);
  }
  return performance.now() - start;
}

/** USER_HZ: 100 on every Linux this runs on; `getconf CLK_TCK` says otherwise if not. */
const CLOCK_TICKS = Number(process.env['BENCH_CLK_TCK'] ?? 100);

/** CPU time (user + system) process `pid` has used so far, in ms, from /proc (Linux; 10 ms ticks). */
export function procCpuMs(pid: number): number {
  // Fields after the `(comm)`, which may itself hold spaces: state is field 3, utime 14, stime 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS;
}
