/**
 * Issue 15, bad input on NATS: a message on a cluster subject that does not parse is dropped and
 * counted and never crashes a node; a request that does not parse gets an error answer, never
 * silence. NATS access is the cluster's trust boundary: a forged claim that parses is believed
 * (it fences the client it names), so with TLS on NATS a client without the NATS certificate
 * cannot even connect.
 */
import { createConnection } from 'node:net';
import { connect, headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientSubject } from '@restpipe/cluster';
import { encodeFrameBytes, LENGTH_PREFIX_BYTES, toEventFrame } from '@restpipe/core';
import { codeOf, recordsOf, viewOf } from './helpers/cluster-probes.js';
import { call } from './helpers/http.js';
import { natsServerAvailable } from './helpers/nats-cluster.js';
import { startRpCluster, type RpCluster } from './helpers/rp-cluster.js';
import { settle, waitFor } from './helpers/wait.js';

const SUBJECTS = ['rp.v1.claim', 'rp.v1.beat', 'rp.v1.state', 'rp.v1.hold', 'rp.v1.cancel'];
const SINCE = '2020-01-01T00:00:00.000Z';
/** Payloads that none of the control messages accepts: each fails every parser, whatever the subject. */
const GARBAGE: Array<string | Buffer> = [
  '', 'not json', '{', '[]', 'null', '42', '"a string"', '{}',
  Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28]),
  `${'['.repeat(5000)}${']'.repeat(5000)}`,
  `"${'a'.repeat(1024 * 1024)}"`,
  JSON.stringify({ name: 'target', node: 123, epoch: 5, since: SINCE, claims: [], seen: [], hold: 'h1', id: '1' }),
  JSON.stringify({ name: 'target', node: 'bad node', epoch: 5, since: SINCE, claims: [], seen: [], hold: 'h1', id: '1' }),
  JSON.stringify({ name: 'target', node: 'x'.repeat(200), epoch: 5, since: SINCE, claims: [], seen: [], hold: 'h1', id: '1' }),
  JSON.stringify({ name: 'target', node: ['n0'], epoch: 5 }),
  JSON.stringify({ name: 'target', node: 'evil-node', epoch: -1 }),
  JSON.stringify({ name: 'target', node: 'evil-node', epoch: 1.5 }),
  JSON.stringify({ name: 'target', node: 'evil-node', epoch: '99' }),
  JSON.stringify({ name: 'target', node: 'evil-node', epoch: 2 ** 60 }),
  JSON.stringify({ name: 'a b', node: 'evil-node', epoch: 5 }),
  JSON.stringify({ name: '.hidden', node: 'evil-node', epoch: 5 }),
  JSON.stringify({ name: { toString: 'target' }, node: 'evil-node', epoch: 5 }),
  JSON.stringify({ node: 'evil-node', since: SINCE, claims: [['target']] }),
  JSON.stringify({ node: 'evil-node', since: SINCE, claims: 'all' }),
  JSON.stringify({ node: 'evil-node', since: SINCE, claims: [['target', 0]] }),
  JSON.stringify({ node: 'evil-node', since: 'not a date', claims: [] }),
  JSON.stringify({ node: 'evil-node', since: SINCE, claims: [['bad name!', 5]], seen: 'x' }),
  JSON.stringify({ node: 'evil-node', name: 'target', hold: '../../etc/passwd' }),
  JSON.stringify({ node: 'evil-node', id: 'x'.repeat(100) }),
  '{"__proto__":{"name":"target","node":"evil-node","epoch":5},"constructor":{"prototype":{"polluted":true}}}',
];

/** Everything a server says to a plain TCP client that sends `text` after its INFO, until it closes (or 5 s). */
function plainTextSession(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let said = '';
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(said);
    };
    const timer = setTimeout(done, 5_000);
    socket.on('data', (chunk: Buffer) => {
      if (said === '') socket.write(text);
      said += chunk.toString('latin1');
    });
    socket.on('close', done);
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? done() : reject(error)));
  });
}

/** An Event frame's body, as a forwarder sends it, from a request. */
function eventBody(noun: string[]): Buffer {
  return encodeFrameBytes({ kind: 'event', event: toEventFrame({ verb: 'get', noun }, 0, 5_000, 'forged-request') }).subarray(LENGTH_PREFIX_BYTES);
}

function droppedOf(metrics: string): number {
  return Number(/^restpipe_server_cluster_dropped_total (\d+)/m.exec(metrics)?.[1] ?? Number.NaN);
}

async function dropped(cluster: RpCluster, via: number): Promise<number> {
  return droppedOf(await (await fetch(`${cluster.server(via).gateway}/_rp/metrics`)).text());
}

describe.runIf(natsServerAvailable())('messages on the cluster subjects that do not parse', () => {
  let cluster: RpCluster;
  let nc: NatsConnection;
  let forgedEpoch = 0;

  beforeAll(async () => {
    cluster = await startRpCluster({ clients: ['target', 'victim', 'fresh'] });
    await cluster.startClient('target', 1);
    await cluster.startClient('victim', 2);
    expect(await cluster.waitForClient('target')).toBe('n1');
    expect(await cluster.waitForClient('victim')).toBe('n2');
    nc = await connect({ servers: cluster.nats.urls[0]!, name: 'hostile', reconnect: false });
  }, 90_000);

  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  it('drops and counts garbage on every control subject, and no node goes down', async () => {
    const before = await Promise.all([0, 1, 2].map((via) => dropped(cluster, via)));
    // The counter exists on every node (the metrics part is built), at 0 before this test.
    expect(before).toEqual([0, 0, 0]);
    for (const subject of SUBJECTS) for (const payload of GARBAGE) nc.publish(subject, payload);
    nc.publish('rp.v1.sync', 'garbage: a sync carries nothing to parse');
    await nc.flush();
    const expected = SUBJECTS.length * GARBAGE.length;
    for (let via = 0; via < 3; via += 1) {
      await waitFor(async () => (await dropped(cluster, via)) >= expected, `n${via} to count ${expected} dropped`, 15_000, 100);
    }
    for (const server of cluster.servers) expect(server!.exitCode).toBeNull();
    await cluster.waitForNodes(3);
    expect((await viewOf(cluster.server(0).gateway)).nodes.map((n) => n.node).sort()).toEqual(['n0', 'n1', 'n2']);
  });

  it('answers a forwarded request that does not parse with an error, not silence', async () => {
    const subject = clientSubject('target', 'n1');
    const hop = (value: string): ReturnType<typeof headers> => {
      const h = headers();
      h.set('Rp-Hops', value);
      return h;
    };
    const cases: Array<{ what: string; data: Uint8Array | string; hops?: string }> = [
      { what: 'no Rp-Hops header', data: eventBody(['time']) },
      { what: 'Rp-Hops: 2 (forwarded twice)', data: eventBody(['time']), hops: '2' },
      { what: 'bytes that are no frame', data: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x01]), hops: '1' },
      { what: 'an empty body', data: '', hops: '1' },
      { what: 'a frame that is no event', data: encodeFrameBytes({ kind: 'ping', ping: { seq: 1 } }).subarray(LENGTH_PREFIX_BYTES), hops: '1' },
    ];
    for (const c of cases) {
      const answer = await settle(nc.request(subject, c.data, { timeout: 5_000, ...(c.hops ? { headers: hop(c.hops) } : {}) }));
      expect(answer.ok, `${c.what}: ${answer.ok ? '' : answer.error.message}`).toBe(true);
      const msg = (answer as { value: Msg }).value;
      expect(msg.headers?.get('Rp-Status'), c.what).toBe('error');
      expect((msg.json() as { className: string }).className, c.what).toBe('ProtocolError');
    }
    await waitFor(async () => (await dropped(cluster, 1)) >= SUBJECTS.length * GARBAGE.length + cases.length, 'n1 to count them', 10_000, 100);
  });

  it('answers a broadcast part that does not parse with no results, and a /_rp/clients ask with the list', async () => {
    const parts = await nc.requestMany('rp.v1.bcast', Buffer.from('garbage'), { strategy: 'count', maxMessages: 3, maxWait: 5_000 });
    const answers: string[] = [];
    for await (const msg of parts) answers.push(msg.string());
    expect(answers).toEqual(['[]', '[]', '[]']);
    const lists = await nc.requestMany('rp.v1.clients', Buffer.from('garbage'), { strategy: 'count', maxMessages: 3, maxWait: 5_000 });
    const nodes: string[] = [];
    for await (const msg of lists) nodes.push((msg.json() as { node: string }).node);
    expect(nodes.sort()).toEqual(['n0', 'n1', 'n2']);
  });

  it('a reply that does not parse is a 502 ProtocolError at the origin, never a crash', async () => {
    // A fake node claims `ghost` and answers its requests with garbage of every kind.
    const fake = clientSubject('ghost', 'fake-node');
    const replies: Array<{ status?: string; data: string | Buffer }> = [
      { data: 'no status header' },
      { status: 'reply', data: Buffer.from([0xff, 0xff, 0xff, 0xff]) },
      { status: 'error', data: 'not json' },
      { status: 'sideways', data: '' },
    ];
    let n = 0;
    const sub = nc.subscribe(fake, {
      queue: 'rp',
      callback: (_error, msg) => {
        const r = replies[n++ % replies.length]!;
        const h = headers();
        if (r.status) h.set('Rp-Status', r.status);
        msg.respond(r.data, { headers: h });
      },
    });
    await nc.flush();
    nc.publish('rp.v1.claim', JSON.stringify({ name: 'ghost', node: 'fake-node', epoch: Date.now() }));
    await nc.flush();
    try {
      for (let i = 0; i < replies.length; i += 1) {
        const answer = await waitFor(async () => {
          const a = await call(`${cluster.server(i % 3).gateway}/client/ghost/time`, { signal: AbortSignal.timeout(15_000) });
          return a.status === 404 ? undefined : a; // the fake claim may not have reached that node yet
        }, 'the fake claim to be known', 10_000, 50);
        expect(answer.status, answer.text).toBe(502);
        expect(codeOf(answer)).toBe('RP_ERR_PROTOCOL');
      }
    } finally {
      sub.unsubscribe();
    }
    for (const server of cluster.servers) expect(server!.exitCode).toBeNull();
  });

  it('still serves a normal request from every node', async () => {
    for (let via = 0; via < 3; via += 1) {
      const answer = await call(`${cluster.server(via).gateway}/client/target/cat//ok/${via}`);
      expect(answer.status, answer.text).toBe(200);
      expect(answer.json()).toEqual({ result_from_client: `ok${via}` });
    }
  });

  it('drops and counts a claim with an epoch far past every clock (it would freeze every clock near 2^53)', async () => {
    const victim = cluster.clients.get('victim')!;
    const before = await Promise.all([0, 1, 2].map((via) => dropped(cluster, via)));
    nc.publish('rp.v1.claim', JSON.stringify({ name: 'victim', node: 'evil-node', epoch: Number.MAX_SAFE_INTEGER }));
    nc.publish('rp.v1.beat', JSON.stringify({ node: 'evil-node', since: SINCE, claims: [['victim', Date.now() + 2 * 86_400_000]] }));
    await nc.flush();
    for (let via = 0; via < 3; via += 1) {
      await waitFor(async () => (await dropped(cluster, via)) >= before[via]! + 2, `n${via} to drop both`, 10_000, 50);
    }
    // n2, the holder, has read both and kept its client.
    expect(recordsOf(victim, 'disconnected from server')).toEqual([]);
    expect((await call(`${cluster.server(0).gateway}/client/victim/time`)).status).toBe(200);
  });

  it('a forged claim that parses is believed: it fences the client it names (NATS access is the trust boundary)', async () => {
    const victim = cluster.clients.get('victim')!;
    // An hour ahead of every clock: absurd, yet within what a node takes (a day).
    forgedEpoch = Date.now() + 3_600_000;
    nc.publish('rp.v1.claim', JSON.stringify({ name: 'victim', node: 'evil-node', epoch: forgedEpoch }));
    await nc.flush();
    const told = await waitFor(() => recordsOf(victim, 'disconnected from server')[0], 'the victim to be fenced', 10_000);
    expect(told['reason']).toBe('goaway:duplicate_identity');
    expect(recordsOf(cluster.server(2), 'cluster: a newer connection elsewhere replaced this client').map((r) => r['node'])).toEqual(['evil-node']);
  });

  it('after it, a node\'s clock is an hour ahead, and its claims still parse everywhere', async () => {
    const claims: Array<{ name: string; node: string; epoch: number }> = [];
    nc.subscribe('rp.v1.claim', { callback: (_error, msg) => claims.push(msg.json()) });
    await nc.flush();
    await cluster.startClient('fresh', 1);
    expect(await cluster.waitForClient('fresh', 1)).toBe('n1');
    const claim = await waitFor(() => claims.find((c) => c.name === 'fresh' && c.node === 'n1'), 'n1 to claim fresh');
    expect(claim.epoch).toBeGreaterThan(forgedEpoch);
    expect(Number.isSafeInteger(claim.epoch + 1_000_000)).toBe(true);
    for (const via of [0, 2]) {
      await waitFor(async () => (await viewOf(cluster.server(via).gateway)).nodes.find((n) => n.node === 'n1')?.clients === 2,
        `n${via} to see n1 with target and fresh`, 10_000, 50);
    }
    // Past NODE_LOST_MS (3.5 s): no node stopped accepting another's heartbeats.
    await new Promise((r) => setTimeout(r, 4_500));
    await cluster.waitForNodes(3, 1_000);
    for (let via = 0; via < 3; via += 1) {
      const answer = await call(`${cluster.server(via).gateway}/client/fresh/time`, { signal: AbortSignal.timeout(15_000) });
      expect(answer.status, `n${via}: ${answer.text}`).toBe(200);
    }
  }, 30_000);
});

describe.runIf(natsServerAvailable())('with TLS on NATS, only holders of a NATS certificate get in', () => {
  let cluster: RpCluster;

  beforeAll(async () => {
    cluster = await startRpCluster({ tls: true, clients: ['tls-a'] });
    await cluster.startClient('tls-a', 0);
    expect(await cluster.waitForClient('tls-a', 2)).toBe('n0');
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  /** One attempt at server 0, never retried. */
  const attempt = (options: Parameters<typeof connect>[0] = {}): ReturnType<typeof settle<NatsConnection>> =>
    settle(connect({ servers: cluster.nats.urls[0]!, reconnect: false, timeout: 5_000, ...options }));

  it('the cluster runs over TLS: a request from n2 reaches the client of n0', async () => {
    expect(cluster.nats.urls.every((url) => url.startsWith('tls://'))).toBe(true);
    const answer = await call(`${cluster.server(2).gateway}/client/tls-a/cat//over/tls`);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.json()).toEqual({ result_from_client: 'overtls' });
  });

  it('refuses a NATS client with no certificate, one with a certificate of another CA, and one with no TLS at all', async () => {
    const tls = cluster.nats.tls!;
    const certs = cluster.certs;
    const logFrom = cluster.nats.servers[0]!.log().length;
    const refused = [
      await attempt({ tls: { caFile: tls.ca } }),
      // A pipe client's certificate (the rp CA) is no NATS credential.
      await attempt({ tls: { caFile: tls.ca, certFile: certs.path('tls-a', 'crt'), keyFile: certs.path('tls-a', 'key') } }),
    ];
    for (const [i, outcome] of refused.entries()) {
      if (outcome.ok) await outcome.value.close();
      expect(outcome.ok, `attempt ${i} should be refused`).toBe(false);
    }
    // Refused by the server, for the certificate (the client may only see its connection reset).
    const said = await waitFor(() => {
      const log = cluster.nats.servers[0]!.log().slice(logFrom);
      return /client didn't provide a certificate/.test(log) && /certificate signed by unknown authority/.test(log) && log;
    }, 'nats-server to log both refusals', 5_000, 50);
    expect(said).toMatch(/TLS handshake error/);
    // In plain text, nats-server takes nothing: its INFO asks for TLS, and a PUB gets no PONG.
    const plain = await plainTextSession(cluster.nats.servers[0]!.port, 'CONNECT {"verbose":false}\r\nPUB rp.v1.claim 2\r\nhi\r\nPING\r\n');
    expect(plain).toMatch(/^INFO .*"tls_required":true/);
    expect(plain).not.toContain('PONG');
    // The same attempt with the NATS certificate gets in: what was refused was the credential.
    const admitted = await attempt({ tls: { caFile: tls.ca, certFile: tls.cert, keyFile: tls.key } });
    expect(admitted.ok).toBe(true);
    if (admitted.ok) await admitted.value.close();
    for (const server of cluster.servers) expect(server!.exitCode).toBeNull();
  });
});
