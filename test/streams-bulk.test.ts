/**
 * Bulk transfers through the real CLIs (SPEC §12): an HTTP caller, rp-client's gateway,
 * the mutual-TLS pipe, rp-server's handler (test/fixtures/stream-handler.ts). Bodies are
 * made on the fly and hashed as they go, never held; the memory of both nodes is read
 * from /proc (VmRSS, every 100 ms, on a thread of its own) while they move.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, percentile, timedGet, type Exchange } from './helpers/bulk-http.js';
import { ROOT } from './helpers/cli.js';
import { CertDir, startPair, type NodePair } from './helpers/nodes.js';
import { growthMiB, lateGrowthMiB, MiB, nowMs, sampleRss, samplesBetween, type RssTrace } from './helpers/rss.js';
import { pattern, patternHash } from './fixtures/stream-handler.js';

const GiB = 1024 * MiB;
/** SPEC §12: memory stays flat, whatever the size of the body. Peak minus the value before. */
const RSS_GROWTH_BOUND_MiB = 64;
/**
 * Growth after the first quarter of a transfer. A cold node grows some 25-40 MiB over
 * its first tens of MiB (V8's young generation reaching its size: with
 * --max-semi-space-size=1 the same upload grows 14 MiB), then stays flat: what grows
 * later grows with the body, as a leak would.
 */
const LATE_GROWTH_BOUND_MiB = 24;
/** `--stream-window-bytes`, left at its default. */
const WINDOW = 262_144;
const OCTETS = { 'content-type': 'application/octet-stream' };

let certs: CertDir;
let pair: NodePair;
let server: string;

beforeAll(async () => {
  certs = new CertDir(['node-a']);
  const handler = ['--handler', join(ROOT, 'test/fixtures/stream-handler.ts')];
  // Defaults throughout: --timeout-ms 30000 (longer than the stall below), a window of 256 KiB.
  pair = await startPair(certs, handler, handler);
  server = `${pair.client.gateway}/server`;
}, 30_000);

afterAll(async () => {
  await pair?.client.stop();
  await pair?.server.stop();
});

const mib = (bytes: number): string => (bytes / MiB).toFixed(1);

interface Sampled<T> {
  result: T;
  server: RssTrace;
  client: RssTrace;
}

/** Samples both nodes while `transfer` runs. */
async function withRss<T>(transfer: () => Promise<T>): Promise<Sampled<T>> {
  const sampler = await sampleRss([pair.server.pid!, pair.client.pid!]);
  let result: T;
  try {
    result = await transfer();
  } catch (error) {
    await sampler.stop();
    throw error;
  }
  const [serverTrace, clientTrace] = await sampler.stop();
  return { result, server: serverTrace!, client: clientTrace! };
}

function rssLine(rss: { server: RssTrace; client: RssTrace }): string {
  const one = (t: RssTrace): string => `${growthMiB(t)} MiB (${mib(t.before)} -> peak ${mib(t.peak)}; after the first quarter ${lateGrowthMiB(t)} MiB)`;
  return `RSS growth rp-server ${one(rss.server)}, rp-client ${one(rss.client)}; ` +
    `${rss.server.samples.length} samples, longest gap ${Math.round(Math.max(rss.server.longestGapMs, rss.client.longestGapMs))} ms`;
}

function report(what: string, answer: Exchange, bytes: number, rss: Sampled<unknown>): void {
  const seconds = answer.ms / 1000;
  console.log(`streams-bulk: ${what}: ${mib(bytes)} MiB in ${seconds.toFixed(1)} s (${(bytes / MiB / seconds).toFixed(0)} MiB/s); ${rssLine(rss)}`);
}

/** The most the kernel holds for one loopback TCP connection (receive side and send side): tcp_rmem and tcp_wmem maxima. */
function socketBufferBytes(): number {
  const max = (name: string): number => Number(readFileSync(`/proc/sys/net/ipv4/${name}`, 'utf8').trim().split(/\s+/)[2]);
  return max('tcp_rmem') + max('tcp_wmem');
}

async function producedBy(key: string): Promise<number> {
  const res = await fetch(`${server}/produced//${key}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { bytes: number }).bytes;
}

describe('bulk streams through rp-client and rp-server (SPEC §12)', () => {
  it('moves 1 GiB up and 1 GiB down, sha256 equal, each node growing under 64 MiB', async () => {
    const seed = 1601;
    const up = await withRss(() => exchange(`${server}/sink`, { method: 'POST', body: pattern(GiB, seed), headers: OCTETS }));
    report('1 GiB up (chunked POST /server/sink)', up.result, GiB, up);
    expect(up.result.status).toBe(200);
    expect(up.result.sent).toBe(GiB);
    expect(JSON.parse(up.result.text)).toMatchObject({ bytes: GiB, sha256: up.result.sentSha256, streamed: true, size: null, aborted: false });

    const down = await withRss(() => exchange(`${server}/bytes//${GiB}/${seed}`));
    report('1 GiB down (GET /server/bytes)', down.result, GiB, down);
    expect(down.result).toMatchObject({ status: 200, bytes: GiB, complete: true });
    expect(down.result.headers['content-length']).toBe(String(GiB));
    // The same seed and size: the same bytes the upload made (and hashed as it made them).
    expect(down.result.sha256).toBe(up.result.sentSha256);

    for (const rss of [up, down]) {
      for (const trace of [rss.server, rss.client]) {
        expect(growthMiB(trace)).toBeLessThan(RSS_GROWTH_BOUND_MiB);
        expect(lateGrowthMiB(trace)).toBeLessThan(LATE_GROWTH_BOUND_MiB);
      }
    }
  }, 240_000);

  it('a caller that stops reading for 10 s stops the handler, not memory; the rest then arrives whole', async () => {
    const total = 256 * MiB;
    const seed = 1602;
    const key = 'stall';
    const bound = socketBufferBytes() + 4 * WINDOW + 2 * MiB;
    let delivered = 0;
    let response: http.IncomingMessage | undefined;
    let request: http.ClientRequest | undefined;
    const download = exchange(`${server}/counted//${total}/${seed}/${key}`, {
      onResponse: (res, req) => {
        response = res;
        request = req;
        res.on('data', (chunk: Buffer) => (delivered += chunk.length));
      },
    });
    // Read a little, then stop reading.
    const deadline = Date.now() + 20_000;
    while (delivered < 4 * MiB && Date.now() < deadline) await sleep(5);
    expect(delivered).toBeGreaterThanOrEqual(4 * MiB);
    response!.pause();
    const pausedAt = delivered;

    const sampler = await sampleRss([pair.server.pid!, pair.client.pid!]);
    const stallStart = nowMs();
    await sleep(2_000); // the buffers on the way fill
    const settled = { at: nowMs(), produced: await producedBy(key), read: request!.socket!.bytesRead, delivered };
    await sleep(8_000);
    const last = { produced: await producedBy(key), read: request!.socket!.bytesRead, delivered };
    const [serverRss, clientRss] = await sampler.stop();
    const flat = (t: RssTrace): number => Math.round(((Math.max(...samplesBetween(t, stallStart)) - t.before) / MiB) * 10) / 10;
    console.log(
      `streams-bulk: stalled reader (10 s): delivered ${mib(pausedAt)} MiB before the pause; after 2 s the handler had produced ` +
        `${mib(settled.produced)} MiB and the caller's socket read ${mib(settled.read)} MiB; after 10 s ${mib(last.produced)} MiB and ` +
        `${mib(last.read)} MiB; produced - delivered ${mib(last.produced - last.delivered)} MiB (bound ${mib(bound)} MiB: ` +
        `socket buffers + 4 windows + 2 MiB); RSS growth during the stall rp-server ${flat(serverRss!)} MiB, rp-client ${flat(clientRss!)} MiB`,
    );
    // Paused means paused: nothing more reaches the caller, and the handler's source is not read on.
    expect(last.delivered).toBe(settled.delivered);
    expect(last.read - settled.read).toBeLessThanOrEqual(WINDOW);
    expect(last.produced - settled.produced).toBeLessThanOrEqual(WINDOW);
    // What is on its way is what the buffers between hold, not the body.
    expect(last.produced - last.delivered).toBeLessThanOrEqual(bound);
    expect(last.produced).toBeLessThan(total);
    expect(flat(serverRss!)).toBeLessThan(RSS_GROWTH_BOUND_MiB / 4);
    expect(flat(clientRss!)).toBeLessThan(RSS_GROWTH_BOUND_MiB / 4);

    response!.resume();
    const answer = await download;
    console.log(`streams-bulk: stalled reader: the rest arrived ${(answer.ms / 1000).toFixed(1)} s after the request`);
    expect(answer).toMatchObject({ status: 200, bytes: total, complete: true, sha256: patternHash(total, seed) });
  }, 120_000);

  it('carries 100 streams of 8 MiB at once (uploads, downloads, echoes), each whole', async () => {
    const size = 8 * MiB;
    const kinds = ['sink', 'bytes', 'echo'] as const;
    const jobs = Array.from({ length: 100 }, (_, i) => ({ kind: kinds[i % 3]!, seed: 2000 + i }));
    const expected = new Map(jobs.filter((j) => j.kind === 'bytes').map((j) => [j.seed, patternHash(size, j.seed)]));
    const started = performance.now();
    const run = await withRss(() => Promise.all(jobs.map(({ kind, seed }) => {
      const one = kind === 'bytes'
        ? exchange(`${server}/bytes//${size}/${seed}`)
        : exchange(`${server}/${kind}`, { method: 'POST', body: pattern(size, seed), headers: OCTETS });
      return one.catch((error: Error) => error);
    })));
    const seconds = (performance.now() - started) / 1000;
    const failed = run.result.flatMap((r, i) => (r instanceof Error ? [`${jobs[i]!.kind} ${jobs[i]!.seed}: ${r.message}`] : []));
    expect(failed).toEqual([]);
    const counts = { sink: 0, bytes: 0, echo: 0 };
    jobs.forEach(({ kind, seed }, i) => {
      const answer = run.result[i] as Exchange;
      expect(answer.status, `${kind} ${seed}`).toBe(200);
      if (kind === 'sink') {
        expect(answer.sent).toBe(size);
        expect(JSON.parse(answer.text), `sink ${seed}`).toMatchObject({ bytes: size, sha256: answer.sentSha256, streamed: true });
      } else {
        expect(answer, `${kind} ${seed}`).toMatchObject({ bytes: size, complete: true, sha256: kind === 'bytes' ? expected.get(seed) : answer.sentSha256 });
      }
      counts[kind] += 1;
    });
    console.log(
      `streams-bulk: 100 x 8 MiB at once (${counts.sink} up, ${counts.bytes} down, ${counts.echo} echo; ` +
        `${mib((counts.sink + counts.bytes + 2 * counts.echo) * size)} MiB through the pipe) in ${seconds.toFixed(1)} s; ${rssLine(run)}`,
    );
  }, 180_000);

  it('answers small GETs beside a 1 GiB download (p50/p99 printed, idle and busy)', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const url = `${server}/time`;
    const statuses = new Map<number, number>();
    const timeSome = async (keepOn: () => boolean, atLeast: number): Promise<number[]> => {
      const times: number[] = [];
      while (times.length < atLeast || keepOn()) {
        const { status, us } = await timedGet(url, agent);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        times.push(us);
      }
      return times.sort((a, b) => a - b);
    };
    try {
      await timeSome(() => false, 50); // warm: the socket, the JIT
      const idle = await timeSome(() => false, 500);
      const seed = 1604;
      let downloading = true;
      const download = exchange(`${server}/bytes//${GiB}/${seed}`).finally(() => (downloading = false));
      const busy = await timeSome(() => downloading, 1);
      const answer = await download;
      const line = (name: string, t: number[]): string =>
        `${name} p50 ${(percentile(t, 50) / 1000).toFixed(2)} ms, p99 ${(percentile(t, 99) / 1000).toFixed(2)} ms (${t.length} GETs)`;
      console.log(
        `streams-bulk: small GET /server/time one at a time: ${line('idle', idle)}; ${line('during a 1 GiB download', busy)}; ` +
          `the download took ${(answer.ms / 1000).toFixed(1)} s`,
      );
      expect(Object.fromEntries(statuses)).toEqual({ 200: idle.length + busy.length + 50 });
      expect(answer).toMatchObject({ status: 200, bytes: GiB, complete: true, sha256: patternHash(GiB, seed) });
    } finally {
      agent.destroy();
    }
  }, 240_000);
});
