import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdArgs, holdEnv, linesOf, settledJob, decide } from './holds-helpers.js';
import { call } from './helpers/http.js';
import { natsServerAvailable } from './helpers/nats-cluster.js';
import { startRpCluster, type RpCluster } from './helpers/rp-cluster.js';
import { waitFor } from './helpers/wait.js';

/** SPEC §11: jobs (§8) and holds (§9) for a client on another node go there the same way. */
describe.runIf(natsServerAvailable())('jobs and holds across a cluster', () => {
  let cluster: RpCluster;

  beforeAll(async () => {
    cluster = await startRpCluster({ clients: ['worker', 'late', 'guard'] });
    await cluster.startClient('worker', 0);
    await cluster.waitForClient('worker', 1);
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('runs a job stored on one node on a client of another', async () => {
    const accepted = await call(`${cluster.server(1).gateway}/client/worker/echo`, {
      method: 'POST', headers: { prefer: 'respond-async', 'content-type': 'application/json' }, body: JSON.stringify({ n: 1 }),
    });
    expect(accepted.status).toBe(202);
    const { job } = (await accepted.json()) as { job: string };
    const view = await settledJob(cluster.server(1).gateway, job);
    expect(view.status).toBe('succeeded');
    const result = await call(`${cluster.server(1).gateway}/_rp/jobs/${job}/result`);
    expect(result.status).toBe(200);
    expect(await result.json()).toEqual({ n: 1 });
  });

  it('delivers a queued job once its client connects to another node', async () => {
    const accepted = await call(`${cluster.server(1).gateway}/client/late/cat//a/b`, { headers: { prefer: 'respond-async' } });
    expect(accepted.status).toBe(202);
    const { job } = (await accepted.json()) as { job: string };
    expect(((await (await call(`${cluster.server(1).gateway}/_rp/jobs/${job}`)).json()) as { status: string }).status).toBe('queued');
    await cluster.startClient('late', 2);
    const view = await settledJob(cluster.server(1).gateway, job, 30_000);
    expect(view.status).toBe('succeeded');
    expect(await (await call(`${cluster.server(1).gateway}/_rp/jobs/${job}/result`)).json()).toEqual({ result_from_client: 'ab' });
  });

  it('holds an event on a client of another node; approved there, the job of this node gets its outcome', async () => {
    await cluster.startClient('guard', 0, holdArgs(cluster.certs, 'client', 'guard'), holdEnv(cluster.certs));
    await cluster.waitForClient('guard', 2);
    const held = await call(`${cluster.server(2).gateway}/client/guard/guarded/run//x`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ deploy: 'v4' }),
    });
    expect(held.status).toBe(202);
    const body = (await held.json()) as { job: string; status: string; hold: string };
    expect(body.status).toBe('on_hold');
    expect(linesOf(holdEnv(cluster.certs)['HOLD_LEDGER'])).toEqual([]);
    const guard = cluster.clients.get('guard')!;
    expect((await decide(guard.gateway, body.hold, 'approve')).status).toBe(200);
    const view = await settledJob(cluster.server(2).gateway, body.job, 30_000);
    expect(view.status).toBe('succeeded');
    const result = (await (await call(`${cluster.server(2).gateway}/_rp/jobs/${body.job}/result`)).json()) as { ran: string; body: unknown };
    expect(result).toMatchObject({ ran: 'x', body: { deploy: 'v4' } });
    await waitFor(() => linesOf(holdEnv(cluster.certs)['HOLD_LEDGER']).length === 1, 'one run of the approved handler');
    expect(linesOf(holdEnv(cluster.certs)['HOLD_LEDGER'])).toHaveLength(1);
  });
});
