/**
 * kill -9 of rp-server in the middle of a stream (SPEC §12), over and over: the
 * HTTP caller at rp-client gets a clean failure each time, never a hang, and the
 * surviving rp-client keeps nothing of the dead streams (heap after a full GC,
 * its active handles, its open file descriptors: the pattern of test/leaks.test.ts).
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertDir, type NodeProcess } from './helpers/nodes.js';
import { clientRow, HandBody, httpCall, lineStarting, startStreamPair, startStreamServer, within, type StreamPair } from './helpers/stream-http.js';
import { waitFor } from './helpers/wait.js';

const MiB = 1024 * 1024;
const ENDLESS = 16 * 1024 * MiB;
const HANG_MS = 20_000;
/** Each round kills rp-server twice: mid-download, then mid-upload. */
const ROUNDS = 8;
/** Heap growth allowed in rp-client from after round 1 to the end, after a full GC. */
const HEAP_BOUND_BYTES = 4 * MiB;

interface Proc {
  heapUsed: number;
  rss: number;
  resources: Record<string, number>;
  gc: boolean;
}

let certs: CertDir;
let pair: StreamPair;
/** The rp-server now running: a new process after every kill. */
let server: NodeProcess;

beforeAll(async () => {
  certs = new CertDir(['node-a']);
  pair = await startStreamPair(certs, { clientEnv: { NODE_OPTIONS: '--expose-gc' } });
  server = pair.server;
}, 60_000);

afterAll(async () => {
  await pair?.client.stop();
  await server?.stop();
});

async function restartServer(): Promise<void> {
  server = await startStreamServer(certs, pair.pipePort, pair.serverLog);
  await waitFor(async () => (await fetch(`${pair.client.gateway}/_rp/ready`)).ok, 'rp-client to reconnect', 30_000);
  await waitFor(async () => (await clientRow(server))?.streams === 0, 'node-a on the new rp-server');
}

function killServer(): Promise<void> {
  const dead = server;
  const gone = new Promise<void>((resolve) => dead.once('exit', () => resolve()));
  dead.kill('SIGKILL');
  return gone;
}

async function killMidDownload(): Promise<void> {
  const call = httpCall(`${pair.client.gateway}/server/bytes//${ENDLESS}/1`);
  await waitFor(() => call.received() >= MiB, 'the download to be under way');
  await killServer();
  const answer = await within(call.answer, HANG_MS, 'the download cut by kill -9');
  expect(answer.status).toBe(200);
  expect(answer.complete).toBe(false);
  expect(answer.ended).not.toBe('end');
}

async function killMidUpload(): Promise<void> {
  writeFileSync(pair.serverLog, '');
  const body = new HandBody();
  const call = httpCall(`${pair.client.gateway}/server/watch`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
  body.put(256 * 1024);
  await lineStarting(pair.serverLog, 'watch:first');
  await killServer();
  const answer = await within(call.answer, HANG_MS, 'the upload cut by kill -9');
  body.end();
  // The reply had not started: the 502 envelope.
  expect(answer.status).toBe(502);
  expect(JSON.parse(answer.body.toString()).exception.code).toBe('RP_ERR_PEER_DISCONNECTED');
}

/** rp-client's own view of itself, from its handler (run through the pipe from rp-server's gateway). */
async function clientProc(): Promise<Proc> {
  const answer = await fetch(`${server.gateway}/client/node-a/proc`);
  expect(answer.status).toBe(200);
  return (await answer.json()) as Proc;
}

function clientFds(): number {
  return readdirSync(`/proc/${pair.client.pid}/fd`).length;
}

/** Kinds of active resources rp-client holds more of than at the baseline. */
function grown(now: Record<string, number>, baseline: Record<string, number>): Array<[string, number]> {
  return Object.entries(now).filter(([kind, n]) => n > (baseline[kind] ?? 0));
}

describe('kill -9 of rp-server mid-stream', () => {
  it(`fails the caller cleanly, ${ROUNDS * 2} times, and the surviving rp-client keeps nothing of it`, { timeout: 600_000 }, async () => {
    let baseline: Proc | undefined;
    let baselineFds = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      await killMidDownload();
      await restartServer();
      await killMidUpload();
      await restartServer();
      // A stream through the new rp-server works from end to end.
      const check = await within(httpCall(`${pair.client.gateway}/server/bytes//${MiB}/2`).answer, HANG_MS, 'a download after the restart');
      expect(check).toMatchObject({ status: 200, complete: true, bytes: MiB });
      if (round === 1) {
        baseline = await clientProc();
        expect(baseline.gc, 'rp-client runs with --expose-gc (NODE_OPTIONS)').toBe(true);
        baselineFds = clientFds();
      }
    }
    const end = await clientProc();
    const growth = end.heapUsed - baseline!.heapUsed;
    console.log(`streams-crash: rp-client heap growth after ${ROUNDS * 2} kills mid-stream: ${(growth / MiB).toFixed(2)} MiB, fds ${baselineFds} -> ${clientFds()}`);
    expect(growth).toBeLessThan(HEAP_BOUND_BYTES);
    // Handles and descriptors back to what they were after round 1 (closing sockets may take a moment).
    await waitFor(async () => grown((await clientProc()).resources, baseline!.resources).length === 0, 'rp-client active resources back to the baseline')
      .catch(async () => expect(grown((await clientProc()).resources, baseline!.resources)).toEqual([]));
    await waitFor(() => clientFds() <= baselineFds, 'rp-client file descriptors back to the baseline').catch(() => expect(clientFds()).toBeLessThanOrEqual(baselineFds));
  });
});
