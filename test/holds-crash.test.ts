/**
 * SPEC §9 holds across kill -9, from real processes: a hold and its decision survive a
 * kill -9 of the holding node and of the sending node, and an approved handler that was
 * running when its node died is never run again (the job ends IndeterminateError).
 * The ledger the fixture writes is the judge: nothing lost, nothing done twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CertDir, startNode, startPair, type NodePair, type NodeProcess } from './helpers/nodes.js';
import { call } from './helpers/http.js';
import { waitFor } from './helpers/wait.js';
import { decide, holdArgs, holdEnv, jobView, linesOf, settledJob } from './holds-helpers.js';

async function kill9(node: NodeProcess): Promise<void> {
  if (node.exitCode !== null || node.signalCode !== null) return;
  const exited = new Promise((resolve) => node.once('exit', resolve));
  node.kill('SIGKILL');
  await exited;
}

describe('SPEC §9 holds survive kill -9 of either node', () => {
  let certs: CertDir;
  let pair: NodePair;
  const extra: NodeProcess[] = [];

  afterEach(async () => {
    await Promise.all([pair?.client, pair?.server, ...extra.splice(0)].map((n) => n && kill9(n)));
  });

  async function start(): Promise<void> {
    certs = new CertDir(['node-a']);
    pair = await startPair(certs, holdArgs(certs, 'server', 'server'), holdArgs(certs, 'client', 'node-a'), holdEnv(certs));
  }

  const restartServer = async (): Promise<NodeProcess> => {
    const server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pair.pipePort}`, ...holdArgs(certs, 'server', 'server')], holdEnv(certs));
    extra.push(server);
    return server;
  };
  const restartClient = async (): Promise<NodeProcess> => {
    const client = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${pair.pipePort}`, '--server-name', 'localhost', ...holdArgs(certs, 'client', 'node-a')], holdEnv(certs));
    extra.push(client);
    return client;
  };
  const ledger = (requestId: string) => linesOf(holdEnv(certs)['HOLD_LEDGER']).filter((l) => l.requestId === requestId);

  it('kill -9 of the holding node: the hold is still pending after its restart, and approving it reaches the job', async () => {
    await start();
    const res = await call(`${pair.client.gateway}/server/guarded/run//crash-holder`, { method: 'POST', headers: { 'x-request-id': 'crash-holder' } });
    expect(res.status).toBe(202);
    const { job, hold } = res.json();
    await waitFor(() => linesOf(holdEnv(certs)['HOLD_LOG']).some((l) => l.hook === 'onHold' && l.hold === hold), 'onHold');
    await kill9(pair.server);
    const server = await restartServer();
    await waitFor(async () => (await call(`${pair.client.gateway}/_rp/ready`)).status === 200, 'the client to reconnect', 20_000);
    expect((await call(`${server.gateway}/_rp/holds/${hold}`)).json()).toMatchObject({ hold, status: 'pending', peer: 'node-a' });
    expect((await jobView(pair.client.gateway, job)).status).toBe('on_hold');
    expect((await decide(server.gateway, hold, 'approve')).status).toBe(200);
    expect(await settledJob(pair.client.gateway, job)).toMatchObject({ status: 'succeeded', hold });
    expect(ledger('crash-holder')).toHaveLength(1);
    // onHold ran before the kill; at most once more if the kill beat the record that it had.
    expect(linesOf(holdEnv(certs)['HOLD_LOG']).filter((l) => l.hook === 'onHold' && l.hold === hold).length).toBeLessThanOrEqual(2);
  }, 60_000);

  it('kill -9 of the sending node: a decision made while it is down reaches its job when it comes back', async () => {
    await start();
    const res = await call(`${pair.client.gateway}/server/guarded/run//crash-sender`, { method: 'POST', headers: { 'x-request-id': 'crash-sender' } });
    const { job, hold } = res.json();
    await kill9(pair.client);
    expect((await decide(pair.server.gateway, hold, 'approve')).json().status).toBe('approved');
    await waitFor(() => ledger('crash-sender').length === 1, 'the handler to run while the sender is down');
    const client = await restartClient();
    expect(await settledJob(client.gateway, job)).toMatchObject({ status: 'succeeded', hold, result: { status: 200 } });
    expect((await call(`${client.gateway}/_rp/jobs/${job}/result`)).json()).toMatchObject({ ran: 'crash-sender' });
    expect(ledger('crash-sender')).toHaveLength(1);
  }, 60_000);

  it('a denial made while the sending node is down, then a kill -9 of the holder too: the job still ends 403', async () => {
    await start();
    const { job, hold } = (await call(`${pair.client.gateway}/server/guarded/run//both`, { method: 'POST' })).json();
    await kill9(pair.client);
    await decide(pair.server.gateway, hold, 'deny', { reason: 'no' });
    await kill9(pair.server);
    await restartServer();
    const client = await restartClient();
    expect((await settledJob(client.gateway, job)).result).toMatchObject({ status: 403, returnCode: 252 });
  }, 60_000);

  it('kill -9 of the holding node while the approved handler runs: it is never run again; the job ends IndeterminateError', async () => {
    await start();
    const { job, hold } = (await call(`${pair.client.gateway}/server/guarded/slow//mid-run?ms=30000`, { method: 'POST', headers: { 'x-request-id': 'mid-run' } })).json();
    await decide(pair.server.gateway, hold, 'approve');
    await waitFor(() => linesOf(holdEnv(certs)['HOLD_LEDGER']).some((l) => l.requestId === 'mid-run'), 'the handler to start');
    await kill9(pair.server);
    const server = await restartServer();
    const done = await settledJob(pair.client.gateway, job);
    expect(done).toMatchObject({ status: 'failed', result: { status: 500 } });
    expect((await call(`${pair.client.gateway}/_rp/jobs/${job}/result`)).json().exception.class).toBe('IndeterminateError');
    expect((await call(`${server.gateway}/_rp/holds/${hold}`)).json().status).toBe('approved');
    expect(linesOf(holdEnv(certs)['HOLD_LEDGER']).filter((l) => l.requestId === 'mid-run')).toHaveLength(1);
  }, 60_000);
});
