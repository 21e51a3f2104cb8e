/**
 * SPEC §9 at its edges, from real processes: one log line and one StatsD counter per
 * transition (UDP, real socket), and what a node without a data directory answers, as
 * the holder (it cannot keep a hold) and as the sender (it cannot wait on one).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertDir, startNode, startPair, freePort, type NodePair, type NodeProcess } from './helpers/nodes.js';
import { call } from './helpers/http.js';
import { StatsdCollector } from './helpers/statsd.js';
import { waitFor } from './helpers/wait.js';
import { decide, holdArgs, holdEnv, linesOf, settledJob } from './holds-helpers.js';

/** The JSON log lines of a node's output. */
function logLines(node: NodeProcess): any[] {
  return node.output().split('\n').filter((l) => l.startsWith('{')).map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return {};
    }
  });
}

describe('SPEC §9 transitions: one log line and one StatsD counter each', () => {
  let statsd: StatsdCollector;
  let certs: CertDir;
  let pair: NodePair;

  beforeAll(async () => {
    statsd = await new StatsdCollector().start();
    certs = new CertDir(['node-a']);
    const metrics = ['--statsd', `127.0.0.1:${statsd.port}`];
    pair = await startPair(certs, [...holdArgs(certs, 'server', 'server'), ...metrics], [...holdArgs(certs, 'client', 'node-a'), ...metrics], holdEnv(certs));
  }, 60_000);

  afterAll(async () => {
    statsd?.close();
    await Promise.all([pair?.client.stop(), pair?.server.stop()]);
  });

  it('created, approved, denied and expired each count P.hold.* and log {hold, status, decidedBy}', async () => {
    const make = async (path: string) => (await call(`${pair.client.gateway}/server/${path}`, { method: 'POST' })).json();
    const approved = await make('guarded/run//a');
    const denied = await make('guarded/run//d');
    const expired = await make('guarded/run//e?ttl=300');
    await decide(pair.server.gateway, approved.hold, 'approve');
    await decide(pair.server.gateway, denied.hold, 'deny', { reason: 'nope' });
    for (const { job } of [approved, denied, expired]) await settledJob(pair.client.gateway, job);

    const counted = (name: string) => statsd.lines.filter((l) => l.startsWith(`restpipe.server.hold.${name}:`)).length;
    await waitFor(() => counted('created') >= 3 && counted('approved') >= 1 && counted('denied') >= 1 && counted('expired') >= 1, 'the hold counters');
    expect(statsd.kinds()).toContain('restpipe.server.hold.created|c');

    const lines = logLines(pair.server).filter((l) => typeof l.hold === 'string');
    const of = (hold: string) => lines.filter((l) => l.hold === hold).map((l) => [l.status, l.decidedBy]);
    expect(of(approved.hold)).toEqual([['pending', null], ['approved', 'local']]);
    expect(of(denied.hold)).toEqual([['pending', null], ['denied', 'local']]);
    expect(of(expired.hold)).toEqual([['pending', null], ['expired', null]]);
    for (const line of lines) expect(Object.keys(line)).toEqual(expect.arrayContaining(['hold', 'status', 'decidedBy']));
  });
});

describe('SPEC §9 with --data-dir off', () => {
  let certs: CertDir;
  const nodes: NodeProcess[] = [];

  beforeAll(() => {
    certs = new CertDir(['node-a', 'node-b']);
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });

  it('a holder without a data directory answers 501 NotEnabledError, and so do its hold routes; a sender without one is never held for', async () => {
    const port = await freePort();
    const server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${port}`, ...holdArgs(certs, 'server', 'off')], holdEnv(certs));
    nodes.push(server);
    const connect = ['--server', `127.0.0.1:${port}`, '--server-name', 'localhost'];
    const withData = await startNode('client', certs, 'node-a', [...connect, ...holdArgs(certs, 'client', 'node-a')], holdEnv(certs));
    const without = await startNode('client', certs, 'node-b', [...connect, ...holdArgs(certs, 'client', 'off')], holdEnv(certs));
    nodes.push(withData, without);
    for (const node of [withData, without]) await waitFor(async () => (await call(`${node.gateway}/_rp/ready`)).status === 200, 'ready');

    // The server keeps no holds: its events that would be held are refused, to either client.
    const toServer = await call(`${withData.gateway}/server/guarded/run//x`, { method: 'POST' });
    expect([toServer.status, toServer.json().exception.class]).toEqual([501, 'NotEnabledError']);
    expect(toServer.json().exception.message).toContain('this node keeps no holds');
    expect((await call(`${server.gateway}/_rp/holds`)).status).toBe(501);

    // node-a keeps holds, but the server (its sender) cannot wait on one: refused, not held.
    const toA = await call(`${server.gateway}/client/node-a/guarded/run//x`, { method: 'POST' });
    expect([toA.status, toA.json().exception.class]).toEqual([501, 'NotEnabledError']);
    expect(toA.json().exception.message).toContain('the sending node cannot wait');
    expect((await call(`${withData.gateway}/_rp/holds`)).json()).toEqual([]);
    expect(linesOf(holdEnv(certs)['HOLD_LEDGER'])).toEqual([]);
    // Ordinary events are untouched.
    expect((await call(`${without.gateway}/server/time`)).status).toBe(200);
  }, 60_000);
});
