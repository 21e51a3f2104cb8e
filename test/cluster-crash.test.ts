/**
 * SPEC §11, issue 15: kill -9 of an rp-server while requests flow. Its clients come back on
 * another node within the client's backoff cap; requests to them meanwhile answer 502 or 503 (or
 * 200) and never hang past their bounds; requests to the clients of the other nodes never fail.
 * Real processes: 3 nats-servers, 3 rp-servers, 9 rp-clients.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallerLoops, countByStatus, describeRecords, longest, requestBoundMs, type CallRecord } from './helpers/cluster-callers.js';
import { natsServerAvailable } from './helpers/nats-cluster.js';
import { startRpCluster, type RpCluster } from './helpers/rp-cluster.js';
import { waitFor } from './helpers/wait.js';

const PER_NODE = 3;
const VICTIM = 1;
const SURVIVORS = [0, 2] as const;
/** rp-client's reconnect backoff cap (RECONNECT_MAX_MS; the CLI has no flag for it). */
const BACKOFF_CAP_MS = 30_000;
const DEADLINE_MS = 2_000;
const BOUND_MS = requestBoundMs(DEADLINE_MS);
/** Our own abort: far above BOUND_MS, so that a request still open then is a hang. */
const HANG_MS = 20_000;

const names = Array.from({ length: 3 * PER_NODE }, (_, i) => `crash-n${Math.floor(i / PER_NODE)}-${i % PER_NODE}`);
const homeOf = (name: string): number => Number(/^crash-n(\d)/.exec(name)![1]);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** When the client logged its connection to a server at or after `since` (epoch ms), from its own log. */
function reconnectedAt(output: string, since: number): number | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('"msg":"connected to server"')) continue;
    const time = Date.parse((JSON.parse(line) as { time: string }).time);
    if (time >= since) return time;
  }
  return undefined;
}

function tail(text: string, lines = 25): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

describe.runIf(natsServerAvailable())('kill -9 of an rp-server while requests flow', () => {
  let cluster: RpCluster;

  beforeAll(async () => {
    cluster = await startRpCluster({ clients: names });
    // Three at a time: nine node processes starting at once overload a 2-core box.
    for (let i = 0; i < names.length; i += 3) await Promise.all(names.slice(i, i + 3).map((name) => cluster.startClient(name, homeOf(name))));
    await waitFor(async () => {
      const list = await cluster.clientList(0);
      return names.every((name) => list.some((c) => c.name === name && c.node === `n${homeOf(name)}`));
    }, 'every client to be listed on its own node', 30_000, 100);
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('moves the victim\'s clients to a survivor; 502/503 for them meanwhile, no failure for the others, no hang', async () => {
    const moving = names.filter((name) => homeOf(name) === VICTIM);
    const staying = names.filter((name) => homeOf(name) !== VICTIM);
    let turn = 0;
    // Every client in turn, through the two surviving gateways alternately.
    const loops = new CallerLoops(3, () => {
      const name = names[turn % names.length]!;
      const via = SURVIVORS[Math.floor(turn / names.length) % SURVIVORS.length]!;
      turn += 1;
      return { gateway: cluster.server(via).gateway, via, name };
    }, { deadlineMs: DEADLINE_MS, hangMs: HANG_MS });

    await sleep(1_500);
    const killedAt = performance.now();
    const killedAtWall = Date.now();
    const victim = await cluster.killServer(VICTIM);

    // (a) Each of the victim's clients is listed again, on a surviving node, within the backoff cap.
    const backAfter = new Map<string, { ms: number; node: string }>();
    const lists = new Map<number, Array<{ name: string; node: string }>>();
    await waitFor(async () => {
      lists.set(0, await cluster.clientList(0));
      for (const name of moving) {
        const entry = lists.get(0)!.find((c) => c.name === name);
        if (entry && entry.node !== `n${VICTIM}` && !backAfter.has(name)) backAfter.set(name, { ms: Math.round(performance.now() - killedAt), node: entry.node });
      }
      return backAfter.size === moving.length;
    }, `the clients of n${VICTIM} to be listed on a survivor`, BACKOFF_CAP_MS + 5_000, 100).catch((error: Error) => {
      throw new Error(`${error.message}\nback so far: ${JSON.stringify([...backAfter])}\nn0 lists ${JSON.stringify(lists.get(0))}\n--- n0\n${tail(cluster.server(0).output())}`);
    });
    // Requests keep flowing a while after the move.
    await sleep(3_000);
    const records = await loops.stop();
    const reconnected = Object.fromEntries(moving.map((name) => {
      const at = reconnectedAt(cluster.clients.get(name)!.output(), killedAtWall);
      return [name, at === undefined ? undefined : at - killedAtWall];
    }));

    const report = {
      requests: records.length,
      staying: countByStatus(records.filter((r) => staying.includes(r.name))),
      moving: countByStatus(records.filter((r) => moving.includes(r.name))),
      movingAfterKill: countByStatus(records.filter((r) => moving.includes(r.name) && r.end >= killedAt)),
      longestMs: longest(records),
      reconnectedAfterMs: reconnected,
      listedAfterMs: Object.fromEntries(backAfter),
    };
    console.log(`cluster-crash: ${JSON.stringify(report)}`);

    const evidence = (bad: CallRecord[]): string =>
      `${describeRecords(bad, killedAt)}\n--- n0\n${tail(cluster.server(0).output())}\n--- n2\n${tail(cluster.server(2).output())}\n--- victim n${VICTIM}\n${tail(victim.output())}`;
    // The loops ran through the kill.
    expect(records.filter((r) => r.start > killedAt).length).toBeGreaterThan(names.length);
    expect(records.filter((r) => moving.includes(r.name) && r.start > killedAt).length).toBeGreaterThan(0);
    for (const ms of Object.values(reconnected)) {
      expect(ms, 'a moved client logs its new connection').toBeDefined();
      expect(ms).toBeLessThanOrEqual(BACKOFF_CAP_MS);
    }
    for (const { node, ms } of backAfter.values()) {
      expect(['n0', 'n2']).toContain(node);
      expect(ms).toBeLessThanOrEqual(BACKOFF_CAP_MS + 5_000);
    }
    // (b) The moving clients: 200, 502 or 503 only; nothing past its bound, nothing hung.
    const badMoving = records.filter((r) => moving.includes(r.name) && ![200, 502, 503].includes(r.status as number));
    expect(badMoving, evidence(badMoving)).toEqual([]);
    const slow = records.filter((r) => r.end - r.start > BOUND_MS);
    expect(slow, evidence(slow)).toEqual([]);
    // (c) The clients of the surviving nodes: no failure at all.
    const badStaying = records.filter((r) => staying.includes(r.name) && r.status !== 200);
    expect(badStaying, evidence(badStaying)).toEqual([]);
    // Both survivors agree on where every client is now, each listed once.
    for (const via of SURVIVORS) {
      const list = await cluster.clientList(via);
      expect(list.map((c) => c.name).sort()).toEqual([...names].sort());
      for (const name of moving) expect(list.find((c) => c.name === name)?.node).toBe(backAfter.get(name)!.node);
    }
  }, 90_000);

  it('answers every moved client from both survivors afterwards', async () => {
    for (const name of names.filter((n) => homeOf(n) === VICTIM)) {
      for (const via of SURVIVORS) {
        const response = await fetch(`${cluster.server(via).gateway}/client/${name}/cat//back`);
        expect(response.status).toBe(200);
        expect(await response.json()).toEqual({ result_from_client: 'back' });
      }
    }
  });
});
