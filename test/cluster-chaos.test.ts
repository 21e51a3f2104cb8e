/**
 * SPEC §11, issue 15: a chaos loop. For 60 s, every 3 to 6 s, SIGKILL n1 or n2 (at random) and
 * start it again on the same pipe port, while 4 callers send requests through every live gateway.
 * - Stable clients list every node, n0 first, and n0 is never killed: they stay connected, so every
 *   request to them through a gateway that stayed up must succeed.
 * - Moving clients list only n1 and n2: they are thrown from node to node. Requests to them may
 *   fail, but only with 502 or 503.
 * Nothing may hang past its bound. Requests whose gateway was itself killed meanwhile are counted
 * apart and judged only for hangs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallerLoops, countByStatus, describeRecords, longest, requestBoundMs, type CallRecord } from './helpers/cluster-callers.js';
import { natsServerAvailable } from './helpers/nats-cluster.js';
import { startRpCluster, type RpCluster } from './helpers/rp-cluster.js';
import { waitFor } from './helpers/wait.js';

const CHAOS_MS = 60_000;
const CALLERS = 4;
const DEADLINE_MS = 2_000;
const BOUND_MS = requestBoundMs(DEADLINE_MS);
const HANG_MS = 20_000;
const stable = ['chaos-s0', 'chaos-s1', 'chaos-s2'];
const moving = ['chaos-m0', 'chaos-m1', 'chaos-m2', 'chaos-m3'];
const names = [...stable, ...moving];

interface Downtime {
  node: number;
  start: number;
  /** When the node was back and saw the whole cluster; Infinity while down. */
  end: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const randomOf = <T,>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const tail = (text: string, lines = 20): string => text.trim().split('\n').slice(-lines).join('\n');

describe.runIf(natsServerAvailable())('a chaos loop of rp-server kills while 4 callers run', () => {
  let cluster: RpCluster;
  const live = [true, true, true];
  const downtimes: Downtime[] = [];
  /** The logs of the killed processes, for evidence. */
  const deadLogs: string[] = [];

  beforeAll(async () => {
    cluster = await startRpCluster({ clients: names });
    await Promise.all(stable.map((name) => cluster.startClient(name, 0)));
    await Promise.all(moving.map((name, i) => cluster.startClientOn(name, i % 2 === 0 ? [1, 2] : [2, 1])));
    await waitFor(async () => {
      const list = await cluster.clientList(0);
      return names.every((name) => list.some((c) => c.name === name));
    }, 'every client to be listed', 30_000, 100);
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  /** Kills n1 or n2 every 3 to 6 s until CHAOS_MS has passed; each comes back before the next kill. */
  async function chaos(t0: number): Promise<void> {
    for (;;) {
      await sleep(3_000 + Math.random() * 3_000);
      if (performance.now() - t0 >= CHAOS_MS) return;
      const node = randomOf([1, 2]);
      const downtime: Downtime = { node, start: performance.now(), end: Infinity };
      live[node] = false;
      downtimes.push(downtime);
      deadLogs.push(`--- n${node} killed at +${Math.round(downtime.start - t0)} ms\n${tail((await cluster.killServer(node)).output())}`);
      await cluster.startServer(node);
      await cluster.waitForNodesOf(node, 3);
      downtime.end = performance.now();
      live[node] = true;
    }
  }

  /** The gateway of the request was down at some moment of its life. */
  function gatewayLost(record: CallRecord): boolean {
    return downtimes.some((d) => d.node === record.via && record.start < d.end && record.end > d.start);
  }

  it('never fails a request to a client that stays connected; 502/503 only for the moving ones; no hang', async () => {
    const loops = new CallerLoops(CALLERS, () => {
      const via = randomOf([0, 1, 2].filter((i) => live[i]));
      return { gateway: cluster.server(via).gateway, via, name: randomOf(names) };
    }, { deadlineMs: DEADLINE_MS, hangMs: HANG_MS });
    const t0 = performance.now();
    let chaosError: unknown;
    await chaos(t0).catch((error: unknown) => (chaosError = error));
    const records = await loops.stop();
    if (chaosError) throw chaosError;

    const judged = records.filter((r) => !gatewayLost(r));
    const lost = records.filter(gatewayLost);
    const toStable = judged.filter((r) => stable.includes(r.name));
    const toMoving = judged.filter((r) => moving.includes(r.name));
    const report = {
      seconds: Math.round((performance.now() - t0) / 1000),
      kills: downtimes.map((d) => `n${d.node}@+${Math.round((d.start - t0) / 1000)}s(${Math.round(d.end - d.start)} ms down)`),
      requests: records.length,
      stable: countByStatus(toStable),
      moving: countByStatus(toMoving),
      gatewayLost: countByStatus(lost),
      longestMs: longest(records),
    };
    console.log(`cluster-chaos: ${JSON.stringify(report)}`);

    const evidence = (bad: CallRecord[]): string =>
      `${describeRecords(bad, t0)}\nkills: ${report.kills.join(' ')}\n--- n0\n${tail(cluster.server(0).output())}\n${deadLogs.slice(-3).join('\n')}`;
    expect(downtimes.length).toBeGreaterThanOrEqual(5);
    expect(toStable.length).toBeGreaterThan(100);
    expect(toMoving.length).toBeGreaterThan(100);
    const hung = records.filter((r) => r.status === 'hang' || r.end - r.start > BOUND_MS);
    expect(hung, evidence(hung)).toEqual([]);
    const badStable = toStable.filter((r) => r.status !== 200);
    expect(badStable, evidence(badStable)).toEqual([]);
    const badMoving = toMoving.filter((r) => ![200, 502, 503].includes(r.status as number));
    expect(badMoving, evidence(badMoving)).toEqual([]);
  }, 100_000);

  it('ends with every client listed once and answering, on every node', async () => {
    for (const via of [0, 1, 2]) {
      const list = await waitFor(async () => {
        const l = await cluster.clientList(via);
        return names.every((name) => l.some((c) => c.name === name)) ? l : undefined;
      }, `every client to be listed on n${via}`, 35_000, 200);
      expect(list.map((c) => c.name).sort()).toEqual([...names].sort());
      expect(list.filter((c) => stable.includes(c.name)).map((c) => c.node)).toEqual(['n0', 'n0', 'n0']);
      for (const name of names) {
        const response = await fetch(`${cluster.server(via).gateway}/client/${name}/cat//end`);
        expect(response.status).toBe(200);
      }
    }
  }, 90_000);
});
