/**
 * The data directory under fault, from real rp-client/rp-server processes (SPEC part two,
 * the `--data-dir` paragraph, and §8): held by another process, corrupt, unwritable, all
 * exit 2 with one line; a disk that fills at run time answers 507 StoreFullError for new
 * jobs while the node keeps serving and loses none it accepted. Then the job metrics:
 * StatsD over real UDP and Prometheus text on /_rp/metrics.
 *
 * The tmpfs tests need root (mount). Locally without it they skip, saying why; under
 * CI=true (which runs as root) they fail instead.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountTmpfs, remount, type MountResult } from '../packages/store/src/test-support/mounts.js';
import { BIN, ROOT, runCli } from './helpers/cli.js';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { call } from './helpers/http.js';
import { StatsdCollector } from './helpers/statsd.js';
import { waitFor } from './helpers/wait.js';

const FIXTURE = join(ROOT, 'test/fixtures/jobs-http-handler.ts');
const isRoot = process.getuid?.() === 0;
const underCi = process.env['CI'] === 'true';


/**
 * Whether a tmpfs can be mounted here: tried once at collection (mounted and unmounted at
 * once), so that a test can skip by name, saying why; the real mounts are made in
 * beforeAll, so a run that filters those tests out leaves nothing mounted.
 */
const probe: MountResult = (() => {
  if (!isRoot) return { ok: false, reason: 'not root, so no tmpfs can be mounted' };
  const point = mkdtempSync(join(tmpdir(), 'rp-jobs-probe-'));
  const mount = mountTmpfs(point, 'size=64k');
  if (mount.ok) mount.unmount();
  rmSync(point, { recursive: true, force: true });
  return mount;
})();
if (!probe.ok) console.warn(`jobs-store-faults: the tmpfs tests are skipped: ${probe.reason}`);

/** A tmpfs on a fresh temp dir, mounted in beforeAll and unmounted in afterAll. */
function useTmpfs(options: string): { point: string } {
  const where = { point: '' };
  let unmount: (() => void) | undefined;
  beforeAll(() => {
    if (!probe.ok) return;
    where.point = join(mkdtempSync(join(tmpdir(), 'rp-jobs-tmpfs-')), 'mnt');
    mkdirSync(where.point);
    const mount = mountTmpfs(where.point, options);
    if (!mount.ok) throw new Error(`tmpfs ${options}: ${mount.reason}`);
    unmount = mount.unmount;
  });
  afterAll(() => unmount?.());
  return where;
}

const skipped = probe.ok ? '' : ` (skipped: ${probe.reason})`;

/** `--handler` for this file's fixture (the last `--handler` wins). */
function handlerArgs(certs: CertDir, role: 'server' | 'client'): string[] {
  const file = join(certs.dir, 'jobs-http-handler.ts');
  copyFileSync(FIXTURE, file);
  return ['--handler', `${file}#${role === 'server' ? 'ServerSide' : 'ClientSide'}`];
}

describe('tmpfs tests can run where they must', () => {
  it('is run as root under CI, where a tmpfs can be mounted', () => {
    if (underCi) expect(probe, 'CI runs .ci/run as root; without a tmpfs the tests of this file that need one cannot run').toMatchObject({ ok: true });
    else expect(typeof probe.ok).toBe('boolean');
  });
});

describe('a data directory that cannot be used: exit 2 with one line', () => {
  let certs: CertDir;
  const ro = useTmpfs('size=1m,mode=0755');

  beforeAll(() => {
    certs = new CertDir(['node-a']);
  });

  /** rp-client run to its end, against a server port nobody listens on. */
  async function runClient(dataDir: string): Promise<ReturnType<typeof runCli>> {
    const [gateway, nowhere] = await Promise.all([freePort(), freePort()]);
    return runCli(BIN.client, [
      '--cert', certs.path('node-a', 'crt'), '--key', certs.path('node-a', 'key'), '--ca', certs.path('ca', 'crt'),
      '--gateway', `127.0.0.1:${gateway}`, '--statsd', 'off', '--server', `127.0.0.1:${nowhere}`, '--server-name', 'localhost',
      '--data-dir', dataDir,
    ], { cwd: certs.dir });
  }

  function expectOneLineExit2(run: ReturnType<typeof runCli>, naming: string): void {
    expect({ status: run.status, stderr: run.stderr }).toMatchObject({ status: 2 });
    const lines = run.stderr.trim().split('\n');
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^rp-client: /);
    expect(lines[0]).toContain(naming);
  }

  it('a second rp-client on the --data-dir of a running one exits 2 naming the directory; the first carries on', async () => {
    const dataDir = join(certs.dir, 'data', 'shared');
    const nowhere = await freePort();
    const first = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${nowhere}`, '--server-name', 'localhost', '--data-dir', dataDir]);
    try {
      const second = runClient(dataDir);
      expectOneLineExit2(await second, dataDir);
      expect((await second).stderr).toMatch(/in use|locked/);
      expect(first.exitCode).toBeNull();
      expect((await call(`${first.gateway}/server/time`, { headers: { prefer: 'respond-async' } })).status).toBe(202);
    } finally {
      await first.stop();
    }
  });

  it('a data directory whose restpipe.db is garbage exits 2 with one line, and the file is left as it was', async () => {
    const dataDir = join(certs.dir, 'data', 'corrupt');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const garbage = Buffer.alloc(64 * 1024);
    for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 7919 + 13) & 0xff;
    writeFileSync(join(dataDir, 'restpipe.db'), garbage);
    const run = await runClient(dataDir);
    expectOneLineExit2(run, dataDir);
    expect(run.stderr).toMatch(/corrupt|not a restpipe database/);
    expect(readFileSync(join(dataDir, 'restpipe.db')).equals(garbage)).toBe(true);
  });

  it('a data directory under a regular file exits 2 with one line', async () => {
    const file = join(certs.dir, 'a-file');
    writeFileSync(file, 'not a directory\n');
    const dataDir = join(file, 'data');
    expectOneLineExit2(await runClient(dataDir), dataDir);
  });

  it.skipIf(!probe.ok)(`a data directory on a read-only tmpfs exits 2 with one line, existing or not (root only)${skipped}`, async () => {
    mkdirSync(join(ro.point, 'existing'), { mode: 0o700 });
    expect(remount(ro.point, 'ro'), 'remount,ro').toBe(true);
    for (const dataDir of [join(ro.point, 'existing'), join(ro.point, 'new')]) expectOneLineExit2(await runClient(dataDir), dataDir);
  });
});

describe('a disk that fills up at run time (a 4 MiB tmpfs, 3 MiB of it taken by another file)', () => {
  const full = useTmpfs('size=4m,mode=0700');
  const filler = (): string => join(full.point, 'filler');
  let certs: CertDir;
  let client: NodeProcess | undefined;
  let server: NodeProcess | undefined;
  let pipePort: number;
  const body = Buffer.alloc(96 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31 + 7) & 0xff;
  /** tag -> id of every job that got a 202. */
  const accepted = new Map<string, string>();

  afterAll(async () => {
    await Promise.all([client?.stop(), server?.stop()]);
  });

  const statuses = async (): Promise<string[]> =>
    Promise.all([...accepted.values()].map(async (id) => (await call(`${client!.gateway}/_rp/jobs/${id}`)).json().status));
  const allDelivered = (timeoutMs: number): Promise<unknown> =>
    waitFor(async () => (await statuses()).every((s) => s === 'succeeded'), 'every accepted job to succeed', timeoutMs, 200).catch(async (error: Error) => {
      throw new Error(`${error.message}; statuses: ${JSON.stringify(await statuses())}`);
    });

  it.skipIf(!probe.ok)(`answers 507 StoreFullError for new jobs and keeps serving: job routes, health, and sync calls once the peer is up${skipped}`, async () => {
    certs = new CertDir(['node-f']);
    // Someone else's file on the same disk: removed later, to make room again.
    writeFileSync(filler(), Buffer.alloc(3 * 1024 * 1024, 1));
    pipePort = await freePort();
    client = await startNode('client', certs, 'node-f', [
      '--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', '--data-dir', join(full.point, 'data'), ...handlerArgs(certs, 'client'),
    ]);
    let refused: { status: number; text: string; json: () => any } | undefined;
    for (let i = 0; i < 200 && !refused; i++) {
      const res = await call(`${client.gateway}/server/big?tag=t${i}`, {
        method: 'POST', headers: { prefer: 'respond-async', 'content-type': 'application/octet-stream' }, body,
      });
      if (res.status === 202) accepted.set(`t${i}`, res.json().job);
      else refused = res;
    }
    expect(refused, '1 MiB of room must fill before 200 jobs of 96 KiB').toBeDefined();
    expect(refused!.status, refused!.text).toBe(507);
    expect(refused!.json().exception).toMatchObject({ class: 'StoreFullError', code: 'RP_ERR_STORE_FULL' });
    expect(accepted.size).toBeGreaterThan(0);

    const listed = await call(`${client.gateway}/_rp/jobs?limit=1000`);
    expect(listed.status).toBe(200);
    expect(new Set(listed.json().map((j: { job: string }) => j.job))).toEqual(new Set(accepted.values()));
    expect((await call(`${client.gateway}/_rp/health`)).status).toBe(200);

    server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, '--data-dir', join(certs.dir, 'data', 'server'), ...handlerArgs(certs, 'server')]);
    await waitFor(async () => (await fetch(`${client!.gateway}/_rp/ready`)).ok, 'the pipe to be up', 30_000, 50);
    const sync = await call(`${client.gateway}/server/value//ok`);
    expect(sync.status).toBe(200);
    expect(sync.json()).toMatchObject({ side: 'server', args: ['ok'] });
    expect(client.exitCode).toBeNull();
  }, 60_000);

  // Found by this test and fixed: a status change once rewrote the job's whole row, body and
  // all (schema 3 keeps bodies in their own table), and new jobs could take the disk's last
  // byte (the store now keeps a reserve for the jobs already accepted).
  it.skipIf(!probe.ok)(`delivers every accepted job after the peer connects, with the disk still full${skipped}`, async () => {
    expect(accepted.size).toBeGreaterThan(0);
    await allDelivered(15_000);
  }, 40_000);

  it.skipIf(!probe.ok)(`once there is room again, delivers every accepted job exactly once: none lost${skipped}`, async () => {
    expect(accepted.size).toBeGreaterThan(0);
    rmSync(filler(), { force: true });
    await allDelivered(60_000);
    const ran = readFileSync(certs.hookLog, 'utf8').split('\n').filter((l) => l.startsWith('server:big:'));
    expect(ran.sort()).toEqual([...accepted.keys()].map((tag) => `server:big:${tag}:${body.length}`).sort());
    // And it takes new jobs again.
    const res = await call(`${client!.gateway}/server/value//again`, { headers: { prefer: 'respond-async, wait=5' } });
    expect(res.status).toBe(200);
  }, 90_000);
});

describe('job metrics', () => {
  let statsd: StatsdCollector;
  let certs: CertDir;
  let server: NodeProcess;
  let client: NodeProcess;

  beforeAll(async () => {
    statsd = await new StatsdCollector().start();
    certs = new CertDir(['node-a']);
    const pipePort = await freePort();
    server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, '--data-dir', join(certs.dir, 'data', 'server'), ...handlerArgs(certs, 'server')]);
    client = await startNode('client', certs, 'node-a', [
      '--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', '--data-dir', join(certs.dir, 'data', 'node-a'),
      '--statsd', `127.0.0.1:${statsd.port}`, ...handlerArgs(certs, 'client'),
    ]);
    await waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`)).ok, 'the pipe to be up', 30_000);
  }, 60_000);

  afterAll(async () => {
    statsd?.close();
    await Promise.all([client?.stop(), server?.stop()]);
  });

  async function deliveredJob(gateway: string, path: string): Promise<string> {
    const res = await call(`${gateway}${path}`, { headers: { prefer: 'respond-async' } });
    expect(res.status).toBe(202);
    const id = res.json().job as string;
    await waitFor(async () => (await call(`${gateway}/_rp/jobs/${id}`)).json().status === 'succeeded', `job ${id} to succeed`);
    return id;
  }

  it('sends P.job.accepted, P.job.succeeded and the P.jobs.pending gauge over UDP once a job is accepted and delivered', async () => {
    await deliveredJob(client.gateway, '/server/value//m');
    const has = (line: string): boolean => statsd.lines.includes(line);
    await waitFor(() => has('restpipe.client.job.accepted:1|c') && has('restpipe.client.job.succeeded:1|c'), 'the job counters over UDP');
    const gauges = statsd.lines.filter((l) => l.startsWith('restpipe.client.jobs.pending:'));
    expect(gauges.length).toBeGreaterThan(0);
    for (const gauge of gauges) expect(gauge).toMatch(/^restpipe\.client\.jobs\.pending:\d+\|g$/);
    // Once delivered, nothing is pending.
    await waitFor(() => statsd.lines.filter((l) => l.startsWith('restpipe.client.jobs.pending:')).at(-1) === 'restpipe.client.jobs.pending:0|g', 'the pending gauge back to 0');
  });

  it('shows the job counters and the pending gauge in Prometheus text on /_rp/metrics, on both sides', async () => {
    await deliveredJob(server.gateway, '/client/node-a/value//m');
    const value = (text: string, name: string): number | undefined => {
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      return line === undefined ? undefined : Number(line.slice(name.length + 1));
    };
    for (const [gateway, role] of [[client.gateway, 'client'], [server.gateway, 'server']] as const) {
      const metrics = await call(`${gateway}/_rp/metrics`);
      expect(metrics.status).toBe(200);
      const p = `restpipe_${role}`;
      expect(metrics.text).toContain(`# TYPE ${p}_job_accepted_total counter`);
      expect(metrics.text).toContain(`# TYPE ${p}_jobs_pending gauge`);
      expect(value(metrics.text, `${p}_job_accepted_total`)).toBeGreaterThanOrEqual(1);
      expect(value(metrics.text, `${p}_job_succeeded_total`)).toBeGreaterThanOrEqual(1);
      for (const counter of ['failed', 'expired', 'retry', 'cancelled']) expect(value(metrics.text, `${p}_job_${counter}_total`)).toBe(0);
      expect(value(metrics.text, `${p}_jobs_pending`)).toBe(0);
    }
  });
});
