/**
 * examples/restart-service.ts, the Regent-style handler of SPEC §9, run by a real rp-client
 * against a real rp-server. The "service" command is a script of the test's that writes a
 * ledger line: no real service manager is ever called.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { CertDir, startPair, type NodePair } from './helpers/nodes.js';
import { call } from './helpers/http.js';
import { decide, settledJob } from './holds-helpers.js';

describe('examples/restart-service.ts: restart a named service only after approval', () => {
  let certs: CertDir;
  let pair: NodePair;
  let ledger: string;
  const restarts = (): string[] => (existsSync(ledger) ? readFileSync(ledger, 'utf8').split('\n').filter(Boolean) : []);

  beforeAll(async () => {
    certs = new CertDir(['node-a']);
    ledger = join(certs.dir, 'restarts.log');
    const command = join(certs.dir, 'fake-systemctl');
    writeFileSync(command, `#!/bin/sh\necho "$@" >> '${ledger}'\necho "did $1 of $2"\n`);
    chmodSync(command, 0o755);
    const data = (name: string) => ['--data-dir', join(certs.dir, 'data', name)];
    pair = await startPair(certs, data('server'), ['--handler', join(ROOT, 'examples/restart-service.ts'), ...data('node-a')], {
      RP_SERVICES: 'nginx,app', RP_SERVICE_COMMAND: command,
    });
  }, 60_000);

  afterAll(async () => {
    await Promise.all([pair?.client.stop(), pair?.server.stop()]);
  });

  const restart = (name: string) => call(`${pair.server.gateway}/client/node-a/service/restart//${name}`, { method: 'POST' });

  it('prepare refuses a bad or unlisted name with a 4xx before anyone is asked; nothing is held or run', async () => {
    for (const [name, status] of [['Bad%20Name', 400], ['nginx%3Breboot', 400], ['postgres', 404]] as const) {
      const res = await restart(name);
      expect([res.status, res.json().exception.class], name).toEqual([status, 'HttpError']);
    }
    const twoNames = await call(`${pair.server.gateway}/client/node-a/service/restart//nginx/app`, { method: 'POST' });
    expect(twoNames.status).toBe(400);
    expect((await call(`${pair.server.gateway}/client/node-a/service/stop//nginx`, { method: 'POST' })).status).toBe(403);
    expect((await call(`${pair.client.gateway}/_rp/holds`)).json()).toEqual([]);
    expect(restarts()).toEqual([]);
  });

  it('a restart is held; once approved it runs exactly once and its output is the job result', async () => {
    const res = await restart('nginx');
    expect(res.status).toBe(202);
    const { job, hold, reason } = res.json();
    expect(reason).toBe('restart nginx, asked by server');
    expect(restarts()).toEqual([]);
    expect(pair.client.output()).toContain(`approval needed: restart nginx, asked by server; POST /_rp/holds/${hold}/approve`);
    expect((await decide(pair.client.gateway, hold, 'approve', { reason: 'change 42' })).json().status).toBe('approved');
    expect((await settledJob(pair.server.gateway, job)).status).toBe('succeeded');
    expect((await call(`${pair.server.gateway}/_rp/jobs/${job}/result`)).json()).toEqual({ restarted: 'nginx', output: 'did restart of nginx' });
    expect(restarts()).toEqual(['restart nginx']);
  });

  it('a denied restart never runs', async () => {
    const { job, hold } = (await restart('app')).json();
    await decide(pair.client.gateway, hold, 'deny', { reason: 'not during business hours' });
    expect((await settledJob(pair.server.gateway, job)).result).toMatchObject({ status: 403, returnCode: 252 });
    expect(restarts()).toEqual(['restart nginx']);
  });
});
