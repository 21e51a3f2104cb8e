/**
 * A Jepsen-style history test of SPEC §8 (durable async jobs, exactly-once effect).
 *
 * Real rp-server and rp-client (the built CLIs), each with its own data directory kept
 * across restarts, the pipe running through a FaultProxy. A workload of async jobs in both
 * directions (`Prefer: respond-async` on the client gateway to the server and on the server
 * gateway to the client) runs while a nemesis kills -9 and restarts either node, or cuts
 * or blackholes the link and heals it. Every operation is kept in a history: `ok` (202 with
 * a job id), `fail` (definitely not accepted: connection refused, or an error answer) or
 * `info` (sent, but the connection died before an answer: the job may or may not exist).
 *
 * After healing, every accepted job must end on its sending node, and the ledger that the
 * handler fsyncs (test/fixtures/jepsen-handler.ts) is checked: each succeeded job ran
 * exactly once, no tag ran twice, each failed job is IndeterminateError (the receiver died
 * mid-handler), nothing expired, and nothing ran that was never requested.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, startCli } from './helpers/cli.js';
import { FaultProxy } from './helpers/fault-proxy.js';
import { CertDir, freePort } from './helpers/nodes.js';
import { waitFor } from './helpers/wait.js';
import type { JobView } from '@restpipe/core';

const OPERATIONS = 400;
const WORKERS = 4;
/** Pause of each worker between its operations. */
const SPACING_MS = 250;
/** One of every SERVER_EVERY operations goes from the server's gateway to the client. */
const SERVER_EVERY = 4;
/**
 * `cut`: every link gets a RST and new ones are swallowed; on heal the stalled handshakes are
 * reset too (a middlebox dropping its state). `blackhole`: bytes vanish both ways while the
 * sockets stay open, and on heal flow again on the same sockets (their streams now torn).
 */
const NEMESIS: Fault[] = ['kill-server', 'cut', 'kill-client', 'blackhole', 'kill-server', 'kill-client', 'cut', 'kill-server'];
const FINAL = new Set(['succeeded', 'failed', 'expired', 'cancelled']);

type Fault = 'kill-server' | 'kill-client' | 'cut' | 'blackhole';
type Role = 'server' | 'client';
type Child = ReturnType<typeof startCli>;

interface Operation {
  tag: string;
  /** The node whose gateway took the request (the sending node, which keeps the job). */
  via: Role;
  invokedAt: number;
  completedAt?: number;
  type?: 'ok' | 'fail' | 'info';
  job?: string;
  status?: number;
  error?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const between = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo));

/** The error codes of a failed fetch, its causes' included. */
function codesOf(error: unknown): string[] {
  const codes: string[] = [];
  for (let e = error as { code?: unknown; cause?: unknown; name?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (typeof e.code === 'string') codes.push(e.code);
    if (e.name === 'TimeoutError' || e.name === 'AbortError') codes.push(String(e.name));
    if (typeof e.cause !== 'object') break;
  }
  return codes;
}

describe('durable jobs under a nemesis (Jepsen-style history)', () => {
  const children: Child[] = [];
  let proxy: FaultProxy | undefined;

  afterAll(async () => {
    await proxy?.close();
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('every accepted job ends; succeeded ran exactly once, failed is indeterminate, nothing ran twice or unasked', { timeout: 240_000 }, async () => {
    const t0 = Date.now();
    const certs = new CertDir(['node-a']);
    const handlerFile = join(certs.dir, 'jepsen-handler.ts');
    copyFileSync(join(ROOT, 'test/fixtures/jepsen-handler.ts'), handlerFile);
    const ledger = join(certs.dir, 'ledger.log');
    writeFileSync(ledger, '');
    const dataDir = { server: mkdtempSync(join(tmpdir(), 'rp-jepsen-server-')), client: mkdtempSync(join(tmpdir(), 'rp-jepsen-client-')) };
    const pipePort = await freePort();
    proxy = await new FaultProxy(pipePort).start();
    const gatewayPort = { server: await freePort(), client: await freePort() };
    const gateway = (role: Role): string => `http://127.0.0.1:${gatewayPort[role]}`;
    const logs: string[] = [];

    const nodes: Record<Role, Child | undefined> = { server: undefined, client: undefined };
    /** Starts a node on its own gateway port and data dir (the same across restarts); resolves once it is ready. */
    const launch = async (role: Role): Promise<void> => {
      const name = role === 'server' ? 'server' : 'node-a';
      const child = startCli(role === 'server' ? BIN.server : BIN.client, [
        '--cert', certs.path(name, 'crt'), '--key', certs.path(name, 'key'), '--ca', certs.path('ca', 'crt'),
        '--gateway', `127.0.0.1:${gatewayPort[role]}`, '--statsd', 'off',
        '--handler', `${handlerFile}#${role === 'server' ? 'ServerSide' : 'ClientSide'}`,
        '--data-dir', dataDir[role], '--heartbeat-ms', '200', '--timeout-ms', '2000', '--connect-wait-ms', '500',
        ...(role === 'server'
          ? ['--listen', `127.0.0.1:${pipePort}`]
          : ['--server', `127.0.0.1:${proxy!.port}`, '--server-name', 'localhost']),
      ], { cwd: certs.dir, env: { JEPSEN_LEDGER: ledger } });
      children.push(child);
      nodes[role] = child;
      await waitFor(() => {
        if (child.exitCode !== null) throw new Error(`rp-${role} exited ${child.exitCode}: ${child.output()}`);
        return child.output().includes(`"msg":"rp-${role} ready"`);
      }, `rp-${role} to be ready`, 30_000);
    };
    const kill9 = async (role: Role): Promise<void> => {
      const child = nodes[role]!;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      logs.push(`--- rp-${role} (killed) ---\n${child.output().slice(-3000)}`);
    };
    const pipeUp = (timeoutMs: number): Promise<boolean> =>
      waitFor(async () => (await fetch(`${gateway('client')}/_rp/ready`).catch(() => undefined))?.ok, 'the pipe to be up', timeoutMs, 50);

    await launch('server');
    await launch('client');
    await pipeUp(20_000);

    // --- The workload: a history of operations, each invoked and completed. ---
    const history: Operation[] = [];
    const rounds: string[] = [];
    let next = 0;
    const invoke = async (op: Operation): Promise<void> => {
      const path = op.via === 'client' ? '/server/apply' : '/client/node-a/apply';
      try {
        const response = await fetch(`${gateway(op.via)}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', prefer: 'respond-async' },
          body: JSON.stringify({ tag: op.tag }),
          signal: AbortSignal.timeout(15_000),
        });
        const text = await response.text();
        op.status = response.status;
        if (response.status === 202) {
          op.job = (JSON.parse(text) as { job: string }).job;
          op.type = 'ok';
        } else {
          // A definite answer that is not an acceptance: no job was made.
          op.type = 'fail';
          op.error = text.slice(0, 300);
        }
      } catch (error) {
        const codes = codesOf(error);
        op.error = codes.join('/') || String(error);
        // Refused: no byte of the request left. Anything else: it may have been taken.
        op.type = codes.includes('ECONNREFUSED') ? 'fail' : 'info';
      }
      op.completedAt = Date.now();
    };
    // The workload is spread over the nemesis' rounds whatever their pace: no more than its share before each round ends.
    const allowance = (): number => Math.ceil((OPERATIONS * (rounds.length + 1)) / (NEMESIS.length + 1));
    const worker = async (): Promise<void> => {
      while (next < OPERATIONS) {
        if (next >= allowance()) {
          await sleep(50);
          continue;
        }
        const n = next++;
        const via: Role = n % SERVER_EVERY === SERVER_EVERY - 1 ? 'server' : 'client';
        const op: Operation = { tag: `${via === 'client' ? 'c' : 's'}-${n}`, via, invokedAt: Date.now() };
        history.push(op);
        await invoke(op);
        await sleep(SPACING_MS);
      }
    };

    // --- The nemesis. ---
    const nemesis = async (): Promise<void> => {
      for (const fault of NEMESIS) {
        await sleep(between(800, 2_000));
        const at = Date.now();
        switch (fault) {
          case 'kill-server':
          case 'kill-client': {
            const role: Role = fault === 'kill-server' ? 'server' : 'client';
            await kill9(role);
            await sleep(between(300, 1_500));
            await launch(role);
            break;
          }
          case 'cut':
            proxy!.blackholed = true;
            proxy!.reset();
            await sleep(between(1_000, 2_500));
            proxy!.reset();
            proxy!.blackholed = false;
            break;
          case 'blackhole':
            proxy!.blackholed = true;
            await sleep(between(1_000, 3_000));
            proxy!.blackholed = false;
            break;
        }
        const healed = Date.now();
        await pipeUp(30_000);
        rounds.push(`${((at - t0) / 1000).toFixed(1)}s ${fault} ${healed - at} ms, pipe back ${Date.now() - healed} ms later, ${next} ops sent`);
      }
    };
    await Promise.all([Promise.all(Array.from({ length: WORKERS }, worker)), nemesis()]);
    const workloadSeconds = (Date.now() - t0) / 1000;

    // --- Heal everything, keep both nodes up, and wait for every accepted job to end. ---
    proxy.blackholed = false;
    for (const role of ['server', 'client'] as const) {
      const child = nodes[role]!;
      if (child.exitCode !== null || child.signalCode !== null) await launch(role);
    }
    await pipeUp(30_000);

    const ok = history.filter((op) => op.type === 'ok');
    const fail = history.filter((op) => op.type === 'fail');
    const info = history.filter((op) => op.type === 'info');
    const views = new Map<string, JobView>();
    const readView = async (op: Operation): Promise<void> => {
      const response = await fetch(`${gateway(op.via)}/_rp/jobs/${op.job}`);
      if (response.status !== 200) throw new Error(`GET /_rp/jobs/${op.job} on the ${op.via} answered ${response.status}: ${await response.text()}`);
      views.set(op.tag, (await response.json()) as JobView);
    };
    const unfinished = (): Operation[] => ok.filter((op) => !FINAL.has(views.get(op.tag)?.status ?? ''));
    try {
      await waitFor(async () => {
        const left = unfinished();
        for (let i = 0; i < left.length; i += 50) await Promise.all(left.slice(i, i + 50).map(readView));
        return unfinished().length === 0;
      }, 'every accepted job to reach a final state', 120_000, 250);
      // Jobs made by `info` operations have ids nobody knows: wait until neither node has anything left to deliver.
      await waitFor(async () => {
        for (const role of ['server', 'client'] as const) {
          for (const status of ['queued', 'running', 'on_hold']) {
            const list = (await (await fetch(`${gateway(role)}/_rp/jobs?status=${status}&limit=1000`)).json()) as JobView[];
            if (list.length > 0) return false;
          }
        }
        return true;
      }, 'both nodes to have no unfinished job', 60_000, 250);
    } catch (error) {
      const stuck = unfinished().map((op) => ({ ...op, view: views.get(op.tag) }));
      console.error('unfinished jobs:', JSON.stringify(stuck.slice(0, 20), null, 1));
      for (const role of ['server', 'client'] as const) console.error(`--- rp-${role} ---\n${nodes[role]!.output().slice(-4000)}`);
      throw error;
    }

    // Every job either node keeps, for the jobs of `info` operations.
    const allJobs: Record<Role, JobView[]> = { server: [], client: [] };
    for (const role of ['server', 'client'] as const) {
      allJobs[role] = (await (await fetch(`${gateway(role)}/_rp/jobs?limit=1000`)).json()) as JobView[];
    }

    // --- The checks. ---
    const lines = readFileSync(ledger, 'utf8').split('\n').filter(Boolean);
    const malformed = lines.filter((line) => !/^[cs]-\d+ \d+ \S+$/.test(line));
    const ran = new Map<string, { attempt: number; key: string }[]>();
    for (const line of lines) {
      const [tag, attempt, key] = line.split(' ') as [string, string, string];
      ran.set(tag, [...(ran.get(tag) ?? []), { attempt: Number(attempt), key }]);
    }
    const requested = new Set([...ok, ...info].map((op) => op.tag));
    const duplicated = [...ran].filter(([, runs]) => runs.length > 1).map(([tag, runs]) => ({ tag, runs }));
    const phantom = [...ran.keys()].filter((tag) => !requested.has(tag));
    const succeeded = ok.filter((op) => views.get(op.tag)!.status === 'succeeded');
    const failed = ok.filter((op) => views.get(op.tag)!.status === 'failed');
    const expired = ok.filter((op) => views.get(op.tag)!.status === 'expired' || views.get(op.tag)!.status === 'cancelled');
    const lost = succeeded.filter((op) => (ran.get(op.tag)?.length ?? 0) !== 1).map((op) => ({ ...op, view: views.get(op.tag) }));
    // The key each run saw is its job's id (a job's default idempotency key), and its attempt one the job counted.
    const wrongKey = succeeded.flatMap((op) => (ran.get(op.tag) ?? [])
      .filter((run) => run.key !== op.job || run.attempt < 1 || run.attempt > views.get(op.tag)!.attempts)
      .map((run) => ({ tag: op.tag, job: op.job, attempts: views.get(op.tag)!.attempts, run })));
    // Accepted means stored before the answer: each job was made between its invocation and its 202.
    const outOfWindow = ok.filter((op) => {
      const created = Date.parse(views.get(op.tag)!.createdAt);
      return created < op.invokedAt - 5 || created > op.completedAt! + 5;
    });

    // Every failed job on either node (those of `info` operations too) must be IndeterminateError.
    const indeterminate: string[] = [];
    const unexplained: unknown[] = [];
    for (const role of ['server', 'client'] as const) {
      for (const job of allJobs[role].filter((j) => j.status === 'failed')) {
        const response = await fetch(`${gateway(role)}/_rp/jobs/${job.job}/result`);
        const text = await response.text();
        let code = '';
        try {
          code = (JSON.parse(text) as { exception?: { code?: string } }).exception?.code ?? '';
        } catch { /* not an envelope: unexplained */ }
        if (response.status === 500 && code === 'RP_ERR_INDETERMINATE') indeterminate.push(job.job);
        else unexplained.push({ node: role, job, status: response.status, body: text.slice(0, 500) });
      }
    }
    const notEnded = (['server', 'client'] as const).flatMap((role) => allJobs[role].filter((j) => j.status !== 'succeeded' && j.status !== 'failed').map((j) => ({ node: role, ...j })));
    // Jobs beyond those of `ok` operations can only come from `info` ones, on the gateway they were sent to.
    const extra = (role: Role): number => allJobs[role].length - ok.filter((op) => op.via === role).length;
    const infoVia = (role: Role): number => info.filter((op) => op.via === role).length;

    const report = {
      operations: { total: history.length, ok: ok.length, fail: fail.length, info: info.length },
      jobs: { succeeded: succeeded.length, failedIndeterminate: failed.length, indeterminateOnEitherNode: indeterminate.length, ofInfoOperations: extra('server') + extra('client') },
      attempts: { max: Math.max(0, ...ok.map((op) => views.get(op.tag)!.attempts)), retried: ok.filter((op) => views.get(op.tag)!.attempts > 1).length },
      ledgerLines: lines.length,
      failedRunInLedger: failed.filter((op) => ran.has(op.tag)).length,
      nemesisRounds: rounds.length,
      rounds,
      failReasons: [...new Set(fail.map((op) => `${op.status ?? ''} ${op.error ?? ''}`.slice(0, 80)))],
      infoReasons: [...new Set(info.map((op) => op.error))],
      workloadSeconds,
      totalSeconds: (Date.now() - t0) / 1000,
    };
    console.log('jobs-jepsen:', JSON.stringify(report, null, 1));
    const problems = { malformed, duplicated, phantom, lost, wrongKey, outOfWindow, unexplained, expired, notEnded };
    if (Object.values(problems).some((list) => list.length > 0)) {
      console.error('jobs-jepsen problems:', JSON.stringify(problems, null, 1));
      for (const text of logs.slice(-4)) console.error(text);
    }

    expect(rounds).toHaveLength(NEMESIS.length);
    expect(history).toHaveLength(OPERATIONS);
    expect(ok.length).toBeGreaterThan(OPERATIONS / 2);
    expect(ok.length + fail.length + info.length).toBe(OPERATIONS);
    expect(malformed).toEqual([]);
    expect(duplicated).toEqual([]); // 0 duplicated
    expect(lost).toEqual([]); // 0 lost
    expect(phantom).toEqual([]);
    expect(wrongKey).toEqual([]);
    expect(outOfWindow).toEqual([]);
    expect(unexplained).toEqual([]);
    expect(expired).toEqual([]);
    expect(notEnded).toEqual([]);
    expect(succeeded.length + failed.length).toBe(ok.length);
    expect(extra('server')).toBeGreaterThanOrEqual(0);
    expect(extra('server')).toBeLessThanOrEqual(infoVia('server'));
    expect(extra('client')).toBeGreaterThanOrEqual(0);
    expect(extra('client')).toBeLessThanOrEqual(infoVia('client'));
  });
});
