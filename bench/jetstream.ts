/**
 * The anchor for durable accepts: NATS JetStream publishing to a file-storage
 * stream on Debian's nats-server, closed loop, each publish awaiting its PubAck.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, StorageType, type NatsConnection } from 'nats';
import { freePort, percentile, sleep } from './lib.js';
import { natsServerPath } from './nats.js';

export const SUBJECT = 'bench.jobs';

export interface JetStreamSetup {
  version: string;
  /** Whether this nats-server accepted `sync_interval: always` (fsync before every ack). */
  syncAlways: boolean;
  /** What nats-server said about `sync_interval: always`, for the results. */
  syncNote: string;
  storeDir: string;
  nc: NatsConnection;
  stop(): Promise<void>;
}

function conf(port: number, storeDir: string, syncAlways: boolean): string {
  return [
    `listen: 127.0.0.1:${port}`,
    'jetstream {',
    `  store_dir: "${storeDir}"`,
    ...(syncAlways ? ['  sync_interval: always'] : []),
    '}',
  ].join('\n');
}

/** Starts nats-server from `file`; resolves with its process once it listens, or with what it printed if it exited. */
async function startServer(binary: string, file: string, port: number): Promise<{ proc?: ChildProcess; output: string }> {
  const proc = spawn(binary, ['-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  for (let i = 0; i < 100; i++) {
    if (proc.exitCode !== null) return { output: output.trim() };
    const up = await connect({ servers: `127.0.0.1:${port}`, reconnect: false }).then(async (nc) => (await nc.close(), true), () => false);
    if (up) return { proc, output };
    await sleep(100);
  }
  proc.kill('SIGKILL');
  return { output: `nats-server did not come up: ${output.trim()}` };
}

/**
 * nats-server with JetStream, its store in a fresh directory on the normal disk
 * (not tmpfs), and a file-storage stream on SUBJECT. Tries `sync_interval: always`
 * first (nats-server 2.10 and later); falls back to the default (fsync every 2 minutes).
 */
export async function startJetStream(): Promise<JetStreamSetup | undefined> {
  const binary = natsServerPath();
  if (!binary) return undefined;
  const version = `nats-server ${spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim().replace(/^nats-server:\s*/, '')}`;
  const base = mkdtempSync(join(process.env['BENCH_DISK_DIR'] ?? tmpdir(), 'restpipe-bench-js-'));
  const storeDir = join(base, 'store');
  const port = await freePort();
  const file = join(base, 'nats.conf');
  writeFileSync(file, conf(port, storeDir, true));
  let started = await startServer(binary, file, port);
  let syncAlways = true;
  let syncNote = `${version} accepted sync_interval: always`;
  if (!started.proc) {
    syncAlways = false;
    syncNote = `${version} refused sync_interval: always (${/unknown field.*$/m.exec(started.output)?.[0] ?? started.output.split('\n').pop()}); default file store sync (every 2 min)`;
    writeFileSync(file, conf(port, storeDir, false));
    started = await startServer(binary, file, port);
    if (!started.proc) throw new Error(`bench: nats-server -js did not start: ${started.output}`);
  }
  const proc = started.proc;
  const nc = await connect({ servers: `127.0.0.1:${port}` });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: 'BENCH_JOBS', subjects: [SUBJECT], storage: StorageType.File });
  return {
    version, syncAlways, syncNote, storeDir, nc,
    stop: async () => {
      await nc.close().catch(() => {});
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await gone;
      rmSync(base, { recursive: true, force: true });
    },
  };
}

export interface Drive {
  perSec: number;
  p50Ms: number;
  p99Ms: number;
  count: number;
  errors: number;
}

/** Keeps `inFlight` calls of `once` going for `seconds`, closed loop; latencies timed with performance.now(). */
export async function drive(inFlight: number, seconds: number, once: () => Promise<unknown>): Promise<Drive> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        await once();
        latencies.push(performance.now() - t);
      } catch {
        errors += 1;
      }
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, loop));
  const elapsed = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return { perSec: latencies.length / elapsed, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), count: latencies.length, errors };
}

/** `publishers` closed-loop JetStream publishers of a tiny message, each awaiting its PubAck. */
export function publish(setup: JetStreamSetup, publishers: number, seconds: number, body: Uint8Array): Promise<Drive> {
  const js = setup.nc.jetstream();
  return drive(publishers, seconds, () => js.publish(SUBJECT, body));
}
