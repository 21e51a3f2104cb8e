/**
 * Streams when things go wrong (SPEC §12), with real rp-server and rp-client
 * processes: a caller that leaves either way, a source that fails, a handler that
 * never reads its body, a dropped connection, and the deadline of a stream.
 * The same at library level, where both ends' stream tables can be read:
 * streams-faults-pipe.test.ts; kill -9: streams-crash.test.ts.
 */
import { writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultProxy } from './helpers/fault-proxy.js';
import { CertDir, freePort, type NodeProcess } from './helpers/nodes.js';
import {
  HandBody, httpCall, lineStarting, logLines, noStreamsLeft, clientRow, startStreamPair, within, type StreamPair,
} from './helpers/stream-http.js';
import { waitFor } from './helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** A download far longer than any test waits for: it is always cut. */
const ENDLESS = 16 * 1024 * MiB;
/** How long a settled answer may take before the test calls it a hang: generous, not a speed. */
const HANG_MS = 20_000;

let certs: CertDir;
beforeAll(() => {
  certs = new CertDir(['node-a']);
});

/** The two ways an HTTP caller reaches a far handler: through rp-client to rp-server's handler, or the other way. */
const WAYS = [
  { way: 'rp-client gateway -> rp-server handler', base: (p: StreamPair) => `${p.client.gateway}/server`, farLog: (p: StreamPair) => p.serverLog, far: (p: StreamPair) => p.server },
  { way: 'rp-server gateway -> rp-client handler', base: (p: StreamPair) => `${p.server.gateway}/client/node-a`, farLog: (p: StreamPair) => p.clientLog, far: (p: StreamPair) => p.client },
];

function clearLogs(pair: StreamPair): void {
  writeFileSync(pair.serverLog, '');
  writeFileSync(pair.clientLog, '');
}

/** The node's `stream aborted` log record of the request `requestId`. */
function loggedAbort(node: NodeProcess, requestId: string): Promise<Record<string, unknown>> {
  const record = (): Record<string, unknown> | undefined => node.output().split('\n')
    .filter((line) => line.includes('"msg":"stream aborted"') && line.includes(requestId))
    .map((line) => JSON.parse(line) as Record<string, unknown>)[0];
  return waitFor(record, `the "stream aborted" log record of ${requestId}`);
}

async function stillServes(pair: StreamPair): Promise<void> {
  expect((await fetch(`${pair.client.gateway}/server/time`)).status).toBe(200);
  expect((await fetch(`${pair.server.gateway}/client/node-a/time`)).status).toBe(200);
}

describe('through rp-server and rp-client, behind a fault proxy', () => {
  let pair: StreamPair;
  let proxy: FaultProxy;

  beforeAll(async () => {
    const pipePort = await freePort();
    proxy = await new FaultProxy(pipePort).start();
    pair = await startStreamPair(certs, { pipePort, dialPort: proxy.port });
  }, 60_000);

  afterAll(async () => {
    await pair?.client.stop();
    await pair?.server.stop();
    await proxy?.close();
  });

  describe.each(WAYS)('a caller that goes away ($way)', ({ base, farLog }) => {
    it('mid-download: the far ctx.signal aborts, its source is destroyed, no stream is left, the nodes serve on', async () => {
      clearLogs(pair);
      const call = httpCall(`${base(pair)}/bytes//${ENDLESS}/1`, { leaveAfterBytes: MiB });
      const answer = await within(call.answer, HANG_MS, 'the download');
      expect(answer).toMatchObject({ status: 200, ended: 'left', complete: false });
      expect(await lineStarting(farLog(pair), 'bytes:aborted:')).toBe('bytes:aborted:CancelledError');
      expect(await lineStarting(farLog(pair), 'bytes:closed:')).toBe('bytes:closed:early');
      await noStreamsLeft(pair.server);
      await stillServes(pair);
    });

    it('mid-upload: the far body.stream fails (no clean end) and its ctx.signal aborts', async () => {
      clearLogs(pair);
      const body = new HandBody();
      const call = httpCall(`${base(pair)}/watch`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
      body.put(256 * KiB);
      await lineStarting(farLog(pair), 'watch:first');
      call.leave();
      const error = await lineStarting(farLog(pair), 'watch:error:');
      expect(error).toBe('watch:error:StreamAbortedError');
      expect(await lineStarting(farLog(pair), 'watch:aborted:')).toBe('watch:aborted:CancelledError');
      const lines = logLines(farLog(pair));
      expect(lines.filter((line) => line.startsWith('watch:end'))).toEqual([]);
      expect(lines).not.toContain('watch:not-aborted');
      await noStreamsLeft(pair.server);
      await stillServes(pair);
    });
  });

  it('a far source that fails before the Content-Length it gave ends the response aborted, short of its size', async () => {
    const requestId = `broken-sized-${Date.now()}`;
    const url = `${pair.client.gateway}/server/broken/sized//${MiB}/${4 * MiB}`;
    const answer = await within(httpCall(url, { headers: { 'x-request-id': requestId } }).answer, HANG_MS, 'the download');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-length']).toBe(String(4 * MiB));
    expect(answer.complete).toBe(false);
    expect(answer.ended).not.toBe('end');
    expect(answer.bytes).toBeLessThan(4 * MiB);
    // Logged by both nodes: the one whose source failed, and the one that passed the stream on.
    // What the source made before it failed went out, but for what was still in hand when it failed.
    const sent = await loggedAbort(pair.server, requestId);
    expect(sent).toMatchObject({ direction: 'sent', body: 'reply', code: 'RP_ERR_STREAM_ABORTED' });
    expect(sent['bytes'] as number).toBeGreaterThan(0);
    expect(sent['bytes'] as number).toBeLessThanOrEqual(MiB);
    expect(await loggedAbort(pair.client, requestId)).toMatchObject({ direction: 'received', body: 'reply', bytes: sent['bytes'], code: 'RP_ERR_STREAM_ABORTED' });
    await noStreamsLeft(pair.server);
    await stillServes(pair);
  });

  it('a handler that answers without reading its streamed body stops the upload: the reply is delivered, nothing hangs', async () => {
    clearLogs(pair);
    const big = Readable.from((function* () {
      for (let i = 0; i < 64; i++) yield Buffer.alloc(MiB, i);
    })());
    const answer = await within(httpCall(`${pair.client.gateway}/server/ignore`, { method: 'POST', body: big, headers: { 'content-type': 'application/octet-stream' } }).answer, HANG_MS, 'the upload');
    expect(answer.status).toBe(200);
    expect(answer.complete).toBe(true);
    expect(JSON.parse(answer.body.toString())).toEqual({ ignored: true, streamed: true });
    expect(logLines(pair.serverLog)).toEqual(['ignore:streamed']);
    await noStreamsLeft(pair.server);
    await stillServes(pair);
  });

  it('a dropped connection fails every open stream at once, both ways', async () => {
    clearLogs(pair);
    const downloads = [1, 2, 3].map((seed) => httpCall(`${pair.client.gateway}/server/bytes//${ENDLESS}/${seed}`));
    const reverse = httpCall(`${pair.server.gateway}/client/node-a/bytes//${ENDLESS}/4`);
    const bodies = [new HandBody(), new HandBody()];
    const uploads = bodies.map((body) => httpCall(`${pair.client.gateway}/server/watch`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } }));
    for (const body of bodies) body.put(128 * KiB);
    await waitFor(() => [...downloads, reverse].every((call) => call.received() > 0), 'every download to be under way');
    await waitFor(() => logLines(pair.serverLog).filter((line) => line === 'watch:first').length === 2, 'both uploads to be under way');
    // On rp-server's connection: three replies it sends, two request bodies and one reply it receives.
    expect((await clientRow(pair.server))?.streams).toBe(6);

    proxy.reset();
    const answers = await within(Promise.all(downloads.map((call) => call.answer)), HANG_MS, 'the downloads');
    for (const answer of [...answers, await within(reverse.answer, HANG_MS, 'the reverse download')]) {
      expect(answer.status).toBe(200);
      expect(answer.complete).toBe(false);
      expect(answer.ended).not.toBe('end');
    }
    for (const call of uploads) {
      const answer = await within(call.answer, HANG_MS, 'an upload');
      expect(answer.status).toBe(502);
      expect(JSON.parse(answer.body.toString()).exception.code).toBe('RP_ERR_PEER_DISCONNECTED');
    }
    for (const body of bodies) body.end();
    await waitFor(() => logLines(pair.serverLog).filter((line) => line.startsWith('bytes:aborted:')).length === 3, 'the three far downloads to abort');
    expect(logLines(pair.serverLog).filter((line) => line.startsWith('bytes:aborted:'))).toEqual(Array(3).fill('bytes:aborted:PeerDisconnectedError'));
    await waitFor(() => logLines(pair.serverLog).filter((line) => line.startsWith('watch:error:')).length === 2, 'the two far uploads to fail');
    expect(logLines(pair.serverLog).filter((line) => line.startsWith('watch:error:'))).toEqual(Array(2).fill('watch:error:PeerDisconnectedError'));
    expect(await lineStarting(pair.clientLog, 'bytes:aborted:')).toBe('bytes:aborted:PeerDisconnectedError');

    await waitFor(async () => (await fetch(`${pair.client.gateway}/_rp/ready`)).ok, 'the pipe to be back', 20_000);
    await waitFor(async () => (await clientRow(pair.server)) !== undefined, 'node-a back on rp-server');
    expect((await clientRow(pair.server))?.streams).toBe(0);
    await stillServes(pair);
  }, 60_000);
});

describe('a caller that goes away before the far handler reads its body', () => {
  let pair: StreamPair | undefined;

  /** A pair with both nodes up: a node that died in the previous test is not this test's failure. */
  async function livePair(): Promise<StreamPair> {
    if (pair && pair.server.exitCode === null && pair.client.exitCode === null) return pair;
    await pair?.client.stop();
    await pair?.server.stop();
    pair = await startStreamPair(certs);
    return pair;
  }

  afterAll(async () => {
    await pair?.client.stop();
    await pair?.server.stop();
  });

  it.each(WAYS)('$way: the far body fails when read, and the far node serves on', { timeout: 60_000 }, async ({ base, farLog, far }) => {
    const pair = await livePair();
    clearLogs(pair);
    const body = new HandBody();
    const call = httpCall(`${base(pair)}/later//1000`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    body.put(32 * KiB);
    // The far handler runs, its body on its way and unread, when the caller leaves.
    await lineStarting(farLog(pair), 'later:start');
    call.leave();
    const failed = (): boolean => logLines(farLog(pair)).some((line) => line.startsWith('later:error:'));
    await waitFor(() => far(pair).exitCode !== null || failed(), 'the far body to fail, or the far node to exit');
    const fatal = far(pair).output().split('\n').find((line) => line.includes('"level":60')) ?? '';
    expect(far(pair).exitCode, `the far node exited: ${fatal.slice(0, 400)}`).toBeNull();
    expect(await lineStarting(farLog(pair), 'later:error:')).toBe('later:error:StreamAbortedError');
    await noStreamsLeft(pair.server);
    await stillServes(pair);
  });
});

describe('the deadline of a stream (--timeout-ms 1500)', () => {
  let pair: StreamPair;

  beforeAll(async () => {
    const timeout = ['--timeout-ms', '1500'];
    pair = await startStreamPair(certs, { serverArgs: timeout, clientArgs: timeout });
  }, 60_000);

  afterAll(async () => {
    await pair?.client.stop();
    await pair?.server.stop();
  });

  it('aborts a reply stream that moves no data for the deadline', async () => {
    clearLogs(pair);
    const answer = await within(httpCall(`${pair.client.gateway}/server/stall//65536`).answer, HANG_MS, 'the stalled download');
    expect(answer.status).toBe(200);
    expect(answer.complete).toBe(false);
    expect(answer.bytes).toBe(65536);
    // The signal aborts; its reason is whichever side's idle timer fired first (the reader's stop is a CancelledError).
    expect(await lineStarting(pair.serverLog, 'stall:aborted:')).toMatch(/^stall:aborted:(EventTimeoutError|StreamAbortedError|CancelledError)$/);
    expect(await lineStarting(pair.serverLog, 'stall:closed:')).toBe('stall:closed:early');
    await noStreamsLeft(pair.server);
  });

  it('does not abort a reply stream that keeps moving for longer than the deadline (a chunk every 300 ms for 4 s)', async () => {
    clearLogs(pair);
    const answer = await within(httpCall(`${pair.client.gateway}/server/slow//14/300`).answer, HANG_MS, 'the slow download');
    expect(answer).toMatchObject({ status: 200, complete: true, ended: 'end', bytes: 14 * 16 * KiB });
    expect(logLines(pair.serverLog).filter((line) => line.startsWith('slow:aborted'))).toEqual([]);
  });

  it('does not abort a request body that keeps moving for longer than the deadline', async () => {
    const body = new HandBody();
    const call = httpCall(`${pair.client.gateway}/server/sink`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    for (let i = 0; i < 14; i++) {
      body.put(16 * KiB);
      await new Promise((r) => setTimeout(r, 300));
    }
    body.end();
    const answer = await within(call.answer, HANG_MS, 'the slow upload');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString())).toMatchObject({ bytes: 14 * 16 * KiB, streamed: true });
  });

  it('does not abort a reply stream whose caller stops reading for a while (the windows fill), then reads on', async () => {
    const answer = await within(httpCall(`${pair.client.gateway}/server/bytes//${64 * MiB}/5`, { pauseMs: 1000 }).answer, HANG_MS, 'the paused download');
    expect(answer).toMatchObject({ status: 200, complete: true, ended: 'end', bytes: 64 * MiB });
  });

  it('answers 504 to an upload that stalls before the reply starts', async () => {
    const body = new HandBody();
    const call = httpCall(`${pair.client.gateway}/server/sink`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    body.put(64 * KiB);
    const answer = await within(call.answer, HANG_MS, 'the stalled upload');
    body.end();
    expect(answer.status).toBe(504);
    expect(JSON.parse(answer.body.toString()).exception.code).toBe('RP_ERR_EVENT_TIMEOUT');
    await noStreamsLeft(pair.server);
  });
});
