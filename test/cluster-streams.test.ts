/**
 * Issue 16, SPEC §12 across §11: a stream between a caller on node A's gateway and a client
 * connected to node B crosses the NATS hop with flow control at every hop. Real nats-servers,
 * real rp-server processes n0 (A) and n1 (B), a real rp-client on B with the stream handler
 * (test/fixtures/stream-handler.ts). Bodies are made on the fly and hashed; none is stored.
 */
import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, type Exchange } from './helpers/bulk-http.js';
import { ROOT } from './helpers/cli.js';
import { natsHosts, recordsOf } from './helpers/cluster-probes.js';
import { natsServerAvailable, startNatsCluster } from './helpers/nats-cluster.js';
import { CertDir, type NodeProcess } from './helpers/nodes.js';
import { RpCluster } from './helpers/rp-cluster.js';
import { growthMiB, MiB, sampleRss, type RssTrace } from './helpers/rss.js';
import { waitFor } from './helpers/wait.js';
import { pattern, patternHash } from './fixtures/stream-handler.js';

const NAME = 'far-one';
const BIG = 256 * MiB;
/** SPEC §12: memory stays within the windows at each hop, whatever the body's size. */
const RSS_GROWTH_BOUND_MiB = 64;
const HANDLER = ['--handler', join(ROOT, 'test/fixtures/stream-handler.ts')];
/** Long enough that no stream here ends on its idle deadline by accident. */
const LONG_DEADLINE = { 'x-event-timeout-ms': '120000' };
/** Node A's --max-streams. */
const MAX_STREAMS_A = 3;

describe.runIf(natsServerAvailable())('streams between a caller on node A and a client on node B (SPEC §12 across §11)', () => {
  let cluster: RpCluster;
  let streamLog: string;
  let viaA: string;

  beforeAll(async () => {
    // As startRpCluster, with --max-streams 3 on node A: its relayed streams are bounded.
    cluster = new RpCluster(new CertDir([NAME]), await startNatsCluster({ size: 3 }), { size: 2 });
    // And --max-event-bytes 16 MiB on A: a whole body larger than NATS's max_payload (8 MB here) is taken whole there.
    await cluster.startServer(0, ['--max-streams', String(MAX_STREAMS_A), '--max-event-bytes', String(16 * MiB)]);
    await cluster.startServer(1);
    await cluster.waitForNodes();
    streamLog = join(cluster.certs.dir, 'stream.log');
    writeFileSync(streamLog, '');
    // --server lists n1 first: the client holds its connection on node B.
    await cluster.startClient(NAME, 1, HANDLER, { STREAM_LOG: streamLog });
    expect(await cluster.waitForClient(NAME, 0)).toBe('n1');
    viaA = `${cluster.server(0).gateway}/client/${NAME}`;
    // Warmed up once each way: the RSS figures below grow with the data, not with a first run's compiling.
    expect((await exchange(`${viaA}/bytes//${8 * MiB}/20`)).complete).toBe(true);
    expect((await exchange(`${viaA}/sink`, { method: 'POST', body: pattern(8 * MiB, 20) })).status).toBe(200);
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  /** Samples A and B while `transfer` runs. */
  async function withRss<T>(transfer: () => Promise<T>): Promise<{ result: T; a: RssTrace; b: RssTrace }> {
    const sampler = await sampleRss([cluster.server(0).pid!, cluster.server(1).pid!]);
    let result: T;
    try {
      result = await transfer();
    } finally {
      var traces = await sampler.stop();
    }
    return { result, a: traces[0]!, b: traces[1]! };
  }

  function report(what: string, answer: Exchange, rss: { a: RssTrace; b: RssTrace }): void {
    console.log(`cluster-streams: ${what}: ${(answer.bytes / MiB).toFixed(0)} MiB back, ${(answer.sent / MiB).toFixed(0)} MiB sent in ${(answer.ms / 1000).toFixed(1)} s; `
      + `RSS growth n0 ${growthMiB(rss.a)} MiB, n1 ${growthMiB(rss.b)} MiB (${rss.a.samples.length} samples)`);
  }

  it('downloads 256 MiB from a client on another node, sha256 equal, with its Content-Length', async () => {
    const run = await withRss(() => exchange(`${viaA}/bytes//${BIG}/21`));
    report('256 MiB down', run.result, run);
    expect(run.result).toMatchObject({ status: 200, bytes: BIG, sha256: patternHash(BIG, 21), complete: true });
    expect(run.result.headers['content-length']).toBe(String(BIG));
    expect(run.result.headers['content-type']).toBe('application/x-pattern');
    expect(growthMiB(run.a)).toBeLessThan(RSS_GROWTH_BOUND_MiB);
  }, 120_000);

  it('uploads 256 MiB chunked to a client on another node, sha256 equal', async () => {
    const run = await withRss(() => exchange(`${viaA}/sink`, {
      method: 'POST', body: pattern(BIG, 22), headers: { 'content-type': 'application/octet-stream' },
    }));
    report('256 MiB up', run.result, run);
    expect(run.result.status).toBe(200);
    expect(run.result.sent).toBe(BIG);
    expect(JSON.parse(run.result.text)).toMatchObject({ bytes: BIG, sha256: patternHash(BIG, 22), streamed: true, size: null, aborted: false });
    expect(growthMiB(run.a)).toBeLessThan(RSS_GROWTH_BOUND_MiB);
  }, 120_000);

  it('echoes a body through both hops at once, and carries a Content-Length upload as its size', async () => {
    const echo = await exchange(`${viaA}/echo`, { method: 'POST', body: pattern(16 * MiB, 23), headers: { 'content-type': 'application/x-thing' } });
    expect(echo).toMatchObject({ status: 200, bytes: 16 * MiB, sha256: patternHash(16 * MiB, 23), complete: true });
    expect(echo.headers['content-type']).toBe('application/x-thing');
    const sized = await fetch(`${viaA}/sink`, { method: 'POST', body: Buffer.concat([...pattern(6 * MiB, 24)]), headers: { 'content-type': 'application/octet-stream' } });
    expect(sized.status).toBe(200);
    expect(await sized.json()).toMatchObject({ bytes: 6 * MiB, sha256: patternHash(6 * MiB, 24), streamed: true, size: 6 * MiB });
  }, 60_000);

  it('streams a whole body that NATS cannot carry in one message, rather than refuse it', async () => {
    const whole = Buffer.concat([...pattern(10 * MiB, 25)]);
    const answer = await fetch(`${viaA}/sink`, { method: 'POST', body: whole, headers: { 'content-type': 'application/octet-stream' } });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ bytes: 10 * MiB, sha256: patternHash(10 * MiB, 25), streamed: true, size: 10 * MiB });
  }, 60_000);

  it('holds node A and node B within the windows while the caller reads slowly', async () => {
    const run = await withRss(() => exchange(`${viaA}/bytes//${BIG}/25`, {
      headers: LONG_DEADLINE,
      onResponse: (res) => throttle(res, 3_000, 32 * MiB, 400),
    }));
    report('256 MiB down, read slowly', run.result, run);
    expect(run.result).toMatchObject({ status: 200, bytes: BIG, sha256: patternHash(BIG, 25), complete: true });
    expect(growthMiB(run.a)).toBeLessThan(RSS_GROWTH_BOUND_MiB);
    expect(growthMiB(run.b)).toBeLessThan(RSS_GROWTH_BOUND_MiB);
  }, 120_000);

  it('ends the response aborted, not clean, when the far source fails', async () => {
    const broken = await exchange(`${viaA}/broken//${4 * MiB}`);
    expect(broken.status).toBe(200);
    expect(broken.complete).toBe(false);
    expect(broken.bytes).toBeLessThanOrEqual(4 * MiB);
    expect((await fetch(`${viaA}/time`)).status).toBe(200);
  }, 60_000);

  it('stops the far handler and aborts its signal when the caller leaves mid-download', async () => {
    writeFileSync(streamLog, '');
    await leaveAfter(`${viaA}/bytes//${4 * 1024 * MiB}/26`, 4 * MiB);
    await waitFor(() => readFileSync(streamLog, 'utf8').includes('bytes:closed:early'), 'the far source to be closed early', 15_000);
    await waitFor(() => readFileSync(streamLog, 'utf8').includes('bytes:aborted:'), 'the far handler\'s signal to abort', 15_000);
    expect((await fetch(`${viaA}/time`)).status).toBe(200);
  }, 60_000);

  it('fails the far handler\'s read when the caller leaves mid-upload, and serves on', async () => {
    const client = cluster.clients.get(NAME)!;
    const failedBefore = failedSinks(client);
    const answer = await leaveUploadAfter(`${viaA}/sink`, 4 * MiB);
    expect(answer).toBe('left');
    // The handler on the client, two hops away, saw its body end aborted (not cut short and clean).
    await waitFor(() => failedSinks(client) > failedBefore, 'the far sink handler to fail on the aborted body', 15_000);
    const after = await exchange(`${viaA}/sink`, { method: 'POST', body: pattern(8 * MiB, 27), headers: { 'content-type': 'application/octet-stream' } });
    expect(JSON.parse(after.text)).toMatchObject({ bytes: 8 * MiB, sha256: patternHash(8 * MiB, 27) });
  }, 60_000);

  it('aborts a stream that moves no data for its deadline, on both nodes', async () => {
    writeFileSync(streamLog, '');
    const req = await holdOpen(`${viaA}/bytes//${4 * 1024 * MiB}/33`, { 'x-event-timeout-ms': '1500' });
    try {
      await waitFor(() => readFileSync(streamLog, 'utf8').includes('bytes:closed:early'), 'the idle stream to be ended at its source', 20_000);
    } finally {
      req.destroy();
    }
    expect((await fetch(`${viaA}/time`)).status).toBe(200);
  }, 60_000);

  it('bounds the streams node A relays by --max-streams, and frees each one its caller leaves', async () => {
    const held = await Promise.all(Array.from({ length: MAX_STREAMS_A }, (_, i) => holdOpen(`${viaA}/bytes//${4 * 1024 * MiB}/${40 + i}`)));
    const refused = await fetch(`${viaA}/bytes//${64 * MiB}/44`);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { exception: { code: string } }).exception.code).toBe('RP_ERR_TOO_MANY_IN_FLIGHT');
    for (const req of held) req.destroy();
    // Every slot comes back: as many streams again, each whole.
    await waitFor(async () => {
      const answers = await Promise.all(Array.from({ length: MAX_STREAMS_A }, (_, i) => exchange(`${viaA}/bytes//${MiB}/${50 + i}`)));
      return answers.every((a, i) => a.status === 200 && a.complete && a.sha256 === patternHash(MiB, 50 + i));
    }, 'node A to take as many streams again', 15_000, 200);
  }, 60_000);

  it('drops garbled and hostile stream messages with a log line; one forged into a live stream aborts it, never corrupts it', async () => {
    const nc = await connect({ servers: cluster.nats.urls[0]! });
    try {
      await publishGarbage(nc);
      const clean = await exchange(`${viaA}/bytes//${8 * MiB}/28`);
      expect(clean).toMatchObject({ status: 200, bytes: 8 * MiB, sha256: patternHash(8 * MiB, 28), complete: true });
      await waitFor(() => recordsOf(cluster.server(0), 'cluster: a stream message was dropped').length > 0, 'n0 to log a dropped stream message');
      await waitFor(() => recordsOf(cluster.server(1), 'cluster: a stream message was dropped').length > 0, 'n1 to log a dropped stream message');

      // Learn a live download's subject, and forge the next message of its stream.
      const seen = new Promise<string>((resolve) => {
        const sub = nc.subscribe('rp.v1.stream.n0.*.d', { callback: (_error, msg) => { sub.unsubscribe(); resolve(msg.subject); } });
      });
      await nc.flush();
      const forged = exchange(`${viaA}/bytes//${64 * MiB}/29`, { headers: LONG_DEADLINE, onResponse: (res) => throttle(res, 2_000, 64 * MiB, 0) });
      const subject = await seen;
      const h = headers();
      h.set('Rp-Seq', '999999');
      nc.publish(subject, Buffer.alloc(1024, 0x41), { headers: h });
      const answer = await forged;
      // Aborted mid-body (200, cut short), or refused before it began (502): never a clean end.
      expect(answer.status === 502 || !answer.complete).toBe(true);
      expect(answer.sha256).not.toBe(patternHash(64 * MiB, 29));
    } finally {
      await nc.close();
    }
    expect(cluster.server(0).exitCode).toBeNull();
    expect(cluster.server(1).exitCode).toBeNull();
    expect((await fetch(`${viaA}/time`)).status).toBe(200);
  }, 60_000);

  it('ends a stream on both nodes when node A loses its NATS server mid-download, long before its deadline', async () => {
    writeFileSync(streamLog, '');
    let received = 0;
    const down = exchange(`${viaA}/bytes//${4 * 1024 * MiB}/31`, {
      headers: LONG_DEADLINE, timeoutMs: 60_000,
      // Read as it comes: a caller that does not read would not see its socket close.
      onResponse: (res) => res.on('data', (chunk: Buffer) => (received += chunk.length)),
    });
    await waitFor(() => received >= 8 * MiB, 'the download to be under way', 20_000);
    const hosts = await natsHosts(cluster);
    const natsOfA = hosts.get('n0')!;
    console.log(`cluster-streams: n0 is on nats-server ${natsOfA}, n1 on ${hosts.get('n1')}; killing ${natsOfA}`);
    await cluster.nats.kill(natsOfA);
    const download = await down;
    expect(download.status).toBe(200);
    expect(download.complete).toBe(false);
    // The far handler's source closes: node A told node B once its link was back (or B lost the same server).
    await waitFor(() => readFileSync(streamLog, 'utf8').includes('bytes:closed:early'), 'the far source to be closed early', 20_000);
    await cluster.nats.restart(natsOfA);
    await cluster.waitForNodes();
    expect(await cluster.waitForClient(NAME, 0)).toBe('n1');
    const after = await exchange(`${viaA}/bytes//${8 * MiB}/32`);
    expect(after).toMatchObject({ status: 200, bytes: 8 * MiB, sha256: patternHash(8 * MiB, 32), complete: true });
  }, 90_000);

  // Last: it kills node B.
  it('gives the caller an aborted download and a 502 upload soon after the holder node is killed mid-stream', async () => {
    let received = 0;
    const down = exchange(`${viaA}/bytes//${4 * 1024 * MiB}/30`, {
      headers: LONG_DEADLINE, timeoutMs: 60_000,
      // Read as it comes: a caller that does not read would not see its socket close.
      onResponse: (res) => res.on('data', (chunk: Buffer) => (received += chunk.length)),
    });
    const up = uploadSlowly(`${viaA}/sink`);
    await waitFor(() => received >= 8 * MiB && up.sent() >= 4 * MiB, 'both streams to be under way', 20_000);
    await cluster.killServer(1);
    const [download, upload] = await Promise.all([down, up.answer]);
    expect(download.status).toBe(200);
    expect(download.complete).toBe(false);
    expect(download.bytes).toBeLessThan(4 * 1024 * MiB);
    expect(upload.status).toBe(502);
    expect(JSON.parse(upload.body).exception.code).toBe('RP_ERR_PEER_DISCONNECTED');
    expect(cluster.server(0).exitCode).toBeNull();
  }, 90_000);
});

/** How many times the client's sink handler failed so far (its body ended aborted). */
function failedSinks(client: NodeProcess): number {
  return recordsOf(client, 'event handled').filter((r) => r['handler'] === 'post_sink' && r['failed'] === true).length;
}

/**
 * Reads `res` slowly: nothing for `firstMs`, then a pause of `pauseMs` after every `every`
 * bytes (a pause of 0: none after the first).
 */
function throttle(res: http.IncomingMessage, firstMs: number, every: number, pauseMs: number): void {
  let next = every;
  let bytes = 0;
  const pauseFor = (ms: number): void => {
    res.pause();
    setTimeout(() => res.resume(), ms).unref();
  };
  res.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes < next) return;
    next += every;
    if (pauseMs > 0) pauseFor(pauseMs);
  });
  if (firstMs > 0) pauseFor(firstMs);
}

/** GETs `url` and stops reading once its answer starts: the stream stays open, flow-controlled, until destroyed. */
function holdOpen(url: string, headers: Record<string, string> = LONG_DEADLINE): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers }, (res) => {
      res.pause();
      res.on('error', () => undefined);
      resolve(req);
    });
    req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
  });
}

/** GETs `url` and hangs up once `bytes` came. */
function leaveAfter(url: string, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, headers: LONG_DEADLINE }, (res) => {
      let got = 0;
      res.on('data', (chunk: Buffer) => {
        got += chunk.length;
        if (got >= bytes) {
          req.destroy();
          resolve();
        }
      });
      res.on('error', () => undefined);
    });
    req.on('error', (error) => (req.destroyed ? undefined : reject(error)));
  });
}

/** POSTs a body without end to `url`, and hangs up once `bytes` of it went. */
function leaveUploadAfter(url: string, bytes: number): Promise<'left' | number> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/octet-stream', ...LONG_DEADLINE } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', () => resolve('left'));
    let sent = 0;
    const piece = Buffer.alloc(64 * 1024, 1);
    const more = (): void => {
      while (sent < bytes) {
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', more);
      }
      setTimeout(() => {
        req.destroy();
        resolve('left');
      }, 200);
    };
    more();
  });
}

/** POSTs 1 MiB every 20 ms (for 4 GiB at most): what went, and the answer. */
function uploadSlowly(url: string): { sent(): number; answer: Promise<{ status: number; body: string }> } {
  let sent = 0;
  const body = new Readable({
    read() {
      if (sent >= 4 * 1024 * MiB) return void this.push(null);
      setTimeout(() => {
        sent += MiB;
        this.push(Buffer.alloc(MiB, 2));
      }, 20).unref();
    },
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/octet-stream', ...LONG_DEADLINE } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        body.destroy();
        resolve({ status: res.statusCode!, body: text });
      });
    });
    req.on('error', reject);
    body.pipe(req);
  });
  return { sent: () => sent, answer };
}

/** Messages on both nodes' stream subjects that name no stream they have, or do not parse. */
async function publishGarbage(nc: NatsConnection): Promise<void> {
  const id = 'deadbeefdeadbeef';
  const header = (key: string, value: string) => {
    const h = headers();
    h.set(key, value);
    return h;
  };
  for (const node of ['n0', 'n1']) {
    nc.publish(`rp.v1.stream.${node}.${id}.d`, Buffer.from('who am I'), { headers: header('Rp-Seq', '1') });
    nc.publish(`rp.v1.stream.${node}.${id}.w`, undefined, { headers: header('Rp-Grant', '65536') });
    nc.publish(`rp.v1.stream.${node}.${id}.w`, undefined, { headers: header('Rp-Grant', '-1') });
    nc.publish(`rp.v1.stream.${node}.${id}.d`, Buffer.from('no header'));
    nc.publish(`rp.v1.stream.${node}.${id}.d`, undefined, { headers: header('Rp-End', 'maybe') });
    nc.publish(`rp.v1.stream.${node}.not-an-id.d`, Buffer.from('x'));
    nc.publish(`rp.v1.stream.${node}.${id}.x`, Buffer.from('x'));
    nc.publish(`rp.v1.stream.${node}.${id}.d.more`, Buffer.from('x'));
    nc.publish(`rp.v1.stream.${node}.${id}.w`, Buffer.from([0xff, 0x00]), { headers: header('Rp-Grant', '9'.repeat(40)) });
  }
  await nc.flush();
}
