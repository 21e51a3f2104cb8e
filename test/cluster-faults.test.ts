/**
 * SPEC §11 presence and fencing, with real processes: one name, one connection, cluster-wide
 * (the older copy gets Goaway duplicate_identity within 2 s, as on one node), and the stale
 * holder trap (LESSONS.md): a holder frozen with its NATS subscription still open must not
 * swallow a share of the requests for a name that moved on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listedOn, record, recordsOf, resume, tagsIn, viewOf, waitForCount } from './helpers/cluster-probes.js';
import { natsServerAvailable } from './helpers/nats-cluster.js';
import type { NodeProcess } from './helpers/nodes.js';
import { startRpCluster, type RpCluster } from './helpers/rp-cluster.js';
import { waitFor } from './helpers/wait.js';

/** SPEC §11: "within 2 s"; the rest is slack for three processes scheduled on a busy 2-core box. */
const FENCE_BOUND_MS = 2_000;
const SCHEDULING_SLACK_MS = 1_000;

const logDir = mkdtempSync(join(tmpdir(), 'rp-faults-'));
const ledger = (name: string): string => join(logDir, `${name}.log`);
afterAll(() => rmSync(logDir, { recursive: true, force: true }));

describe.runIf(natsServerAvailable())('one name, one connection, cluster-wide', () => {
  let cluster: RpCluster;
  let older: NodeProcess;
  let newer: NodeProcess;

  beforeAll(async () => {
    cluster = await startRpCluster({ clients: ['dup'] });
    // Two processes with one certificate: separate data dirs (a second process on one exits 2).
    older = await cluster.startClient('dup', 0, ['--data-dir', 'data/dup-older'], { RECORD_LOG: ledger('older') });
    expect(await cluster.waitForClient('dup', 2)).toBe('n0');
    for (const via of [1, 2]) await waitForCount(cluster, via, 'n0', 1);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([older?.stop(), newer?.stop()]);
    await cluster?.stop();
  });

  it('sends the older connection Goaway duplicate_identity within 2 s when the name connects to another node', async () => {
    newer = await cluster.startClient('dup', 1, ['--data-dir', 'data/dup-newer'], { RECORD_LOG: ledger('newer') });
    const told = await waitFor(() => recordsOf(older, 'disconnected from server')[0], 'the older dup to be disconnected', 10_000);
    expect(told['reason']).toBe('goaway:duplicate_identity');
    expect(recordsOf(older, 'peer sent goaway').map((r) => r['reason'])).toEqual(['duplicate_identity']);
    // From the newer connection's registration on n1 to the older's Goaway, by the processes' own clocks.
    const connected = recordsOf(cluster.server(1), 'client connected').find((r) => r['peer'] === 'dup');
    expect(connected).toBeDefined();
    const fenceMs = Date.parse(told.time) - Date.parse(connected!.time);
    console.log(`duplicate name across nodes: the older connection was told Goaway ${fenceMs} ms after the newer one connected`);
    expect(fenceMs).toBeLessThanOrEqual(FENCE_BOUND_MS + SCHEDULING_SLACK_MS);
    const fenced = recordsOf(cluster.server(0), 'cluster: a newer connection elsewhere replaced this client');
    expect(fenced.map((r) => [r['peer'], r['node']])).toEqual([['dup', 'n1']]);
  });

  it('lists the name once, on the newer node, from every node', async () => {
    for (let via = 0; via < 3; via += 1) {
      await waitFor(async () => {
        const dups = (await listedOn(cluster.server(via).gateway)).filter((c) => c.name === 'dup');
        return dups.length === 1 && dups[0]!.node === 'n1';
      }, `n${via} to list dup once, on n1`);
    }
    // n0 let its claim go: its own view and the others' count no client there.
    for (let via = 0; via < 3; via += 1) await waitForCount(cluster, via, 'n0', 0);
  });

  it('routes requests for the name from every node to the newer process only', async () => {
    const tags: string[] = [];
    for (let round = 0; round < 5; round += 1) {
      for (let via = 0; via < 3; via += 1) {
        const tag = `r${round}-via-n${via}`;
        const answer = await record(cluster.server(via).gateway, 'dup', tag);
        expect(answer.status, answer.text).toBe(200);
        expect(answer.json()).toEqual({ recorded: tag });
        tags.push(tag);
      }
    }
    expect(tagsIn(ledger('newer'))).toEqual(tags);
    expect(tagsIn(ledger('older'))).toEqual([]);
  });

  it('behaves as one node does: the replaced copy waits its maximum backoff, then takes over at its next server', async () => {
    // SPEC §2: a client told duplicate_identity waits its maximum backoff (30 s by default). No flapping meanwhile.
    expect(recordsOf(older, 'connected to server')).toHaveLength(1);
    const again = await waitFor(() => recordsOf(older, 'connected to server')[1], 'the older dup to come back', 40_000, 100);
    const waitedMs = Date.parse(again.time) - Date.parse(recordsOf(older, 'disconnected from server')[0]!.time);
    console.log(`the replaced copy came back after ${waitedMs} ms, to ${String(again['server'])}`);
    expect(waitedMs).toBeGreaterThanOrEqual(29_000);
    // Its next server is n1, where the newer copy is: n1 replaces that one, as a single node does.
    expect(again['server']).toBe(`127.0.0.1:${cluster.pipePorts[1]}`);
    const replaced = await waitFor(() => recordsOf(newer, 'disconnected from server')[0], 'the newer dup to be replaced', 10_000);
    expect(replaced['reason']).toBe('goaway:duplicate_identity');
    // Still one holder cluster-wide, and every node's requests go to it: the older process now.
    for (let via = 0; via < 3; via += 1) {
      await waitFor(async () => (await listedOn(cluster.server(via).gateway)).filter((c) => c.name === 'dup').length === 1, `n${via} to list dup once`);
      const answer = await record(cluster.server(via).gateway, 'dup', `back-via-n${via}`);
      expect(answer.status, answer.text).toBe(200);
    }
    expect(tagsIn(ledger('older'))).toEqual(['back-via-n0', 'back-via-n1', 'back-via-n2']);
  }, 60_000);
});

describe.runIf(natsServerAvailable())('a stale holder (frozen with its subscription open) is fenced', () => {
  let cluster: RpCluster;
  let stale: NodeProcess;

  beforeAll(async () => {
    // Heartbeats every 300 ms on both sides (silence allowed is 3 of the longer interval): the
    // client counts a silent server dead after 900 ms and moves on to n1.
    cluster = await startRpCluster({ clients: ['stale'], serverArgs: ['--heartbeat-ms', '300'] });
    stale = await cluster.startClient('stale', 0, ['--heartbeat-ms', '300'], { RECORD_LOG: ledger('stale') });
    expect(await cluster.waitForClient('stale', 2)).toBe('n0');
    for (const via of [1, 2]) await waitForCount(cluster, via, 'n0', 1);
    expect((await record(cluster.server(2).gateway, 'stale', 'before')).status).toBe(200);
  }, 90_000);

  afterAll(async () => {
    resume(cluster?.servers[0]);
    await stale?.stop();
    await cluster?.stop();
  });

  it('serves every request from the new holder while the old one is frozen (SIGSTOP)', async () => {
    expect(cluster.server(0).kill('SIGSTOP')).toBe(true);
    await waitFor(() => recordsOf(stale, 'connected to server').length === 2, 'stale to reconnect', 15_000, 50);
    expect(recordsOf(stale, 'connected to server').map((r) => r['server'])).toEqual(
      [0, 1].map((i) => `127.0.0.1:${cluster.pipePorts[i]}`),
    );
    // n2 has n1's claim (a node's beat comes after its claims) before it is asked.
    await waitForCount(cluster, 2, 'n1', 1);
    const tags: string[] = [];
    for (let i = 0; i < 20; i += 1) {
      const tag = `frozen-${i}`;
      const answer = await record(cluster.server(2).gateway, 'stale', tag);
      expect(answer.status, `request ${i}: ${answer.text}`).toBe(200);
      tags.push(tag);
    }
    expect(tagsIn(ledger('stale'))).toEqual(['before', ...tags]);
    expect(cluster.server(0).exitCode).toBeNull();
  }, 60_000);

  it('the old holder, resumed (SIGCONT), learns of the newer claim and lets the name go; no request is lost after', async () => {
    resume(cluster.server(0));
    await waitFor(async () => (await viewOf(cluster.server(0).gateway)).nodes.find((n) => n.node === 'n0')?.clients === 0,
      'n0 to let stale go', 10_000, 50);
    await cluster.waitForNodes(3);
    for (let via = 0; via < 3; via += 1) {
      await waitFor(async () => {
        const entries = (await listedOn(cluster.server(via).gateway)).filter((c) => c.name === 'stale');
        return entries.length === 1 && entries[0]!.node === 'n1';
      }, `n${via} to list stale once, on n1`);
    }
    const tags: string[] = [];
    for (let i = 0; i < 20; i += 1) {
      for (let via = 0; via < 3; via += 1) {
        const tag = `after-${i}-n${via}`;
        const answer = await record(cluster.server(via).gateway, 'stale', tag);
        expect(answer.status, `${tag}: ${answer.text}`).toBe(200);
        tags.push(tag);
      }
    }
    expect(tagsIn(ledger('stale')).slice(-tags.length)).toEqual(tags);
    // The client never went back to n0.
    expect(recordsOf(stale, 'connected to server')).toHaveLength(2);
  }, 60_000);
});
