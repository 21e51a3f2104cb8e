/** What the approval-hold tests (SPEC §9) share: the fixture's flags, and reading its logs and views. */
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/cli.js';
import { call } from './helpers/http.js';
import type { CertDir } from './helpers/nodes.js';
import { waitFor } from './helpers/wait.js';

const FIXTURE = join(ROOT, 'test/fixtures/holds-handler.ts');
const FINAL = new Set(['succeeded', 'failed', 'expired', 'cancelled']);

/** `--handler` for the holds fixture and an explicit `--data-dir` (or `off`). */
export function holdArgs(certs: CertDir, role: 'server' | 'client', dataName: string | 'off'): string[] {
  const file = join(certs.dir, 'holds-handler.ts');
  if (!existsSync(file)) copyFileSync(FIXTURE, file);
  return ['--handler', `${file}#${role === 'server' ? 'ServerSide' : 'ClientSide'}`, '--data-dir', dataName === 'off' ? 'off' : join(certs.dir, 'data', dataName)];
}

export function holdEnv(certs: CertDir): NodeJS.ProcessEnv {
  return { HOLD_LOG: join(certs.dir, 'hold.log'), HOLD_LEDGER: join(certs.dir, 'hold-ledger.log') };
}

/** The JSON lines a fixture file holds now. */
export function linesOf(file: string | undefined): any[] {
  if (!file || !existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line));
}

export async function jobView(gateway: string, id: string): Promise<any> {
  return (await call(`${gateway}/_rp/jobs/${id}`)).json();
}

/** Resolves the job's view once it reached an end. */
export async function settledJob(gateway: string, id: string, timeoutMs = 20_000): Promise<any> {
  return waitFor(async () => {
    const view = await jobView(gateway, id);
    return FINAL.has(view.status) ? view : undefined;
  }, `job ${id} to end`, timeoutMs, 10);
}

export async function decide(gateway: string, hold: string, decision: 'approve' | 'deny', body?: unknown) {
  return call(`${gateway}/_rp/holds/${hold}/${decision}`, {
    method: 'POST',
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
}
