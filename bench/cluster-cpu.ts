/**
 * Where the CPU went during one load of the cluster bench: each named process's CPU time
 * (user + system: /proc/PID/stat, or process.cpuUsage() for the bench process itself) and the
 * whole machine's busy time (/proc/stat), read before and after, divided by the wall time.
 * On a shared machine the remainder shows how much other processes took meanwhile.
 */
import { readFileSync } from 'node:fs';
import { median, procCpuMs } from './lib.js';

/** CPU a process used while the load ran, in cores: CPU ms per wall ms. */
export interface CpuShare {
  process: string;
  cores: number;
}

export interface CpuReading {
  cpu: CpuShare[];
  /** What the rest of the machine (not the processes named) used meanwhile, in cores. */
  otherCores: number;
}

/** The bench process itself (it runs autocannon), in a `pids` map. */
export const SELF = 'self';

/** USER_HZ, as in bench/lib.ts procCpuMs. */
const CLOCK_TICKS = Number(process.env['BENCH_CLK_TCK'] ?? 100);

/** CPU ms the whole machine has been busy so far, all cores: the `cpu` line of /proc/stat less idle and iowait. */
function machineBusyMs(): number {
  const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks;
  return ((user + nice + system + irq + softirq + steal) * 1000) / CLOCK_TICKS;
}

function cpuMs(pid: number | typeof SELF): number {
  if (pid !== SELF) return procCpuMs(pid);
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Starts reading now; the function it returns reads again and gives each process's share since. */
export function cpuMeter(pids: Record<string, number | typeof SELF>): () => CpuReading {
  const names = Object.keys(pids);
  const before = names.map((n) => cpuMs(pids[n]!));
  const machineBefore = machineBusyMs();
  const start = performance.now();
  return () => {
    const used = names.map((n, i) => cpuMs(pids[n]!) - before[i]!);
    const machine = machineBusyMs() - machineBefore;
    const wallMs = performance.now() - start;
    const ours = used.reduce((a, x) => a + x, 0);
    return { cpu: names.map((n, i) => ({ process: n, cores: used[i]! / wallMs })), otherCores: Math.max(0, machine - ours) / wallMs };
  };
}

/** Each process's median share, and the median of the rest, over several readings of the same processes. */
export function medianReading(readings: CpuReading[]): CpuReading {
  const names = readings[0]?.cpu.map((c) => c.process) ?? [];
  return {
    cpu: names.map((name) => ({ process: name, cores: median(readings.map((r) => r.cpu.find((c) => c.process === name)?.cores ?? NaN)) })),
    otherCores: median(readings.map((r) => r.otherCores)),
  };
}

/** All the named processes' cores together. */
export const busyCores = (r: CpuReading): number => r.cpu.reduce((a, c) => a + c.cores, 0);
