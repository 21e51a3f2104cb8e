import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FaultProxy } from './helpers/fault-proxy.js';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { waitFor } from './helpers/wait.js';

const REQUESTS = 400;
const WORKERS = 8;
const SPACING_MS = 60;

describe('no loss under a nemesis (Jepsen style)', () => {
  const started: NodeProcess[] = [];
  let proxy: FaultProxy | undefined;

  afterAll(async () => {
    await proxy?.close();
    for (const node of started) if (node.exitCode === null && node.signalCode === null) node.kill('SIGKILL');
  });

  it('every success ran exactly once, every refusal never ran, and nothing ran twice', { timeout: 60_000 }, async () => {
    const certs = new CertDir(['node-a']);
    const ledger = join(certs.dir, 'ledger.log');
    writeFileSync(ledger, '');
    const pipePort = await freePort();
    const serverArgs = ['--listen', `127.0.0.1:${pipePort}`, '--heartbeat-ms', '200'];
    const env = { RECORD_LOG: ledger };
    let server = await startNode('server', certs, 'server', serverArgs, env);
    started.push(server);
    proxy = await new FaultProxy(pipePort).start();
    const client = await startNode('client', certs, 'node-a', [
      '--server', `127.0.0.1:${proxy.port}`, '--server-name', 'localhost',
      '--heartbeat-ms', '200', '--connect-wait-ms', '500', '--timeout-ms', '3000',
    ]);
    started.push(client);
    await waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`)).ok, 'the pipe');

    const outcomes = new Map<string, number | 'network'>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < REQUESTS) {
        const tag = `t${next++}`;
        try {
          const response = await fetch(`${client.gateway}/server/record`, {
            method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ tag }),
          });
          outcomes.set(tag, response.status);
          await response.arrayBuffer();
        } catch {
          outcomes.set(tag, 'network');
        }
        await new Promise((r) => setTimeout(r, SPACING_MS));
      }
    };
    const nemesis = async (): Promise<string[]> => {
      const log: string[] = [];
      const at = (ms: number) => new Promise((r) => setTimeout(r, ms));
      await at(600);
      server.kill('SIGKILL');
      log.push('kill -9 server');
      await at(1_000);
      server = await startNode('server', certs, 'server', serverArgs, env);
      started.push(server);
      log.push('restart server');
      // Partition a live connection, so that requests are caught in flight.
      await waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`)).ok, 'the pipe to be back', 15_000);
      await at(300);
      proxy!.blackholed = true;
      log.push('partition');
      await at(1_200);
      proxy!.blackholed = false;
      log.push('heal');
      return log;
    };
    const [, events] = await Promise.all([Promise.all(Array.from({ length: WORKERS }, worker)), nemesis()]);

    const ran = readFileSync(ledger, 'utf8').split('\n').filter(Boolean);
    const runs = new Map<string, number>();
    for (const tag of ran) runs.set(tag, (runs.get(tag) ?? 0) + 1);
    const by = (pred: (s: number | 'network') => boolean) => [...outcomes].filter(([, s]) => pred(s)).map(([t]) => t);
    const ok = by((s) => s === 200);
    const refused = by((s) => s === 503);
    const indeterminate = by((s) => s === 502 || s === 504 || s === 'network');
    const other = by((s) => s !== 200 && s !== 503 && s !== 502 && s !== 504 && s !== 'network');

    expect(outcomes.size).toBe(REQUESTS);
    expect(other).toEqual([]);
    // Acknowledged means it ran, once.
    expect(ok.filter((t) => runs.get(t) !== 1)).toEqual([]);
    // Refused (503: never sent) means it never ran.
    expect(refused.filter((t) => runs.has(t))).toEqual([]);
    // Nothing ever runs twice.
    expect([...runs].filter(([, n]) => n > 1)).toEqual([]);
    // The nemesis really bit, and the pipe really came back.
    expect(refused.length + indeterminate.length).toBeGreaterThan(0);
    expect(ok.length).toBeGreaterThan(REQUESTS / 3);
    const landed = indeterminate.filter((t) => runs.has(t)).length;
    console.log(`no-loss: ${events.join(', ')}; ${ok.length} ok, ${refused.length} refused (503, none ran), ${indeterminate.length} indeterminate (502/504: ${landed} ran, ${indeterminate.length - landed} did not), 0 duplicates`);
  });
});
