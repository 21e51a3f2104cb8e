/**
 * SPEC §9 holds at their faults, each found in review: a cancelled held job, outcomes
 * nobody fetches, a drain while an approved handler runs, a key reused across peers, a
 * hostile peer's notices and HELD replies, a job's expiry, a stored failure read as final.
 * Real processes, or for the hand-driven peer a real PipeServer over real mutual TLS.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { issueCertificate } from '@restpipe/certs';
import { EventHandler, hold as holdFor, PROTOCOL_VERSION, ReplyKind, TooManyInFlightError, type Frame, type PipeServer } from '@restpipe/core';
import { CertDir, startNode, startPair, type NodePair, type NodeProcess } from './helpers/nodes.js';
import { listenServerGateway } from './helpers/gateway.js';
import { call } from './helpers/http.js';
import { TestPki } from './helpers/pki.js';
import { PipeFixture } from './helpers/pipes.js';
import { RawPeer } from './helpers/raw-peer.js';
import { waitFor } from './helpers/wait.js';
import { decide, holdArgs, holdEnv, jobView, linesOf, settledJob } from './holds-helpers.js';

async function kill9(node: NodeProcess | undefined): Promise<void> {
  if (!node || node.exitCode !== null || node.signalCode !== null) return;
  const exited = new Promise((resolve) => node.once('exit', resolve));
  node.kill('SIGKILL');
  await exited;
}

/** The resident set of a process, in bytes, from /proc. */
function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? 0) * 1024;
}

/** A Hello that says this raw peer keeps jobs and can wait on holds (SPEC §9). */
function helloWithHolds(): Frame {
  return {
    kind: 'hello',
    hello: { protocolVersion: PROTOCOL_VERSION, software: 'raw-peer', heartbeatMs: 60_000, maxEventBytes: 1 << 20, maxInFlight: 16, maxConcurrency: 4, maxInboundBytes: 0, idempotencyKeys: true, holds: true },
  };
}

function heldReply(id: number, hold: string, expiresAt: string): Frame {
  return {
    kind: 'reply',
    reply: { id, returnCode: 0, mimeType: 'application/json', kind: ReplyKind.HELD, status: 202, data: Buffer.from(JSON.stringify({ hold, reason: 'raw', expiresAt })) },
  };
}

describe('holds review: real rp-server / rp-client processes', () => {
  let certs: CertDir;
  let pair: NodePair | undefined;
  const extra: NodeProcess[] = [];
  const ledger = (requestId: string) => linesOf(holdEnv(certs)['HOLD_LEDGER']).filter((l) => l.requestId === requestId);

  afterEach(async () => {
    await Promise.all([pair?.client, pair?.server, ...extra.splice(0)].map((n) => kill9(n)));
    pair = undefined;
  });

  async function start(clients: string[] = ['node-a']): Promise<NodePair> {
    certs = new CertDir(clients);
    pair = await startPair(certs, holdArgs(certs, 'server', 'server'), holdArgs(certs, 'client', 'node-a'), holdEnv(certs));
    return pair;
  }

  it('a held job that was cancelled (DELETE /_rp/jobs/ID) is not run when its hold is approved afterwards', async () => {
    const { client, server } = await start();
    const res = await call(`${client.gateway}/server/guarded/run//cancelled`, { method: 'POST', headers: { 'x-request-id': 'review-cancel' } });
    expect(res.status, res.text).toBe(202);
    const { job, hold } = res.json();
    const cancelled = await call(`${client.gateway}/_rp/jobs/${job}`, { method: 'DELETE' });
    expect([cancelled.status, cancelled.json().status]).toEqual([200, 'cancelled']);

    // The approver on the holding node still sees the hold pending, and approves it.
    const seen = (await call(`${server.gateway}/_rp/holds/${hold}`)).json();
    const approved = await decide(server.gateway, hold, 'approve');
    const after = (await call(`${server.gateway}/_rp/holds/${hold}`)).json();
    console.log(`[review] after cancel: hold was ${seen.status}; approve answered ${approved.status}; hold now ${after.status}; handler runs: ${ledger('review-cancel').length}`);
    // The caller cancelled the job: its effect must not happen behind its back.
    expect(ledger('review-cancel')).toEqual([]);
  }, 60_000);

  it('one Idempotency-Key on held synchronous calls to two different clients: the second is 422, as for jobs, and its new hold is withdrawn', async () => {
    const { server } = await start(['node-a', 'node-b']);
    const nodeB = await startNode('client', certs, 'node-b', ['--server', `127.0.0.1:${pair!.pipePort}`, '--server-name', 'localhost', ...holdArgs(certs, 'client', 'node-b')], holdEnv(certs));
    extra.push(nodeB);
    await waitFor(async () => (await call(`${nodeB.gateway}/_rp/ready`)).status === 200, 'node-b to connect');
    const headers = { 'idempotency-key': 'same-key-1', 'x-request-id': 'review-key' };

    const toA = await call(`${server.gateway}/client/node-a/guarded/run//for-a`, { method: 'POST', headers });
    const toB = await call(`${server.gateway}/client/node-b/guarded/run//for-b`, { method: 'POST', headers });
    expect(toA.status).toBe(202);
    // A node's job keys are its own, across peers (as enqueue's are): the key names node-a's job.
    expect([toB.status, toB.json().exception.class]).toEqual([422, 'IdempotencyKeyMismatchError']);
    // node-b had made a hold for it; nothing waits on it, so it is withdrawn, never to run.
    const held = await waitFor(async () => {
      const list = (await call(`${nodeB.gateway}/_rp/holds`)).json();
      return list.length === 1 && list[0].status === 'denied' ? list[0] : undefined;
    }, 'node-b to withdraw its orphan hold');
    expect(held.decidedBy).toBe('peer:server');
    // The first call's job is untouched, and ends with its own outcome.
    const a = toA.json();
    expect((await decide(pair!.client.gateway, a.hold, 'approve')).status).toBe(200);
    expect((await settledJob(server.gateway, a.job, 10_000)).status).toBe('succeeded');
    expect((await call(`${server.gateway}/_rp/jobs/${a.job}/result`)).json()).toMatchObject({ ran: 'for-a', side: 'client' });
  }, 60_000);

  it('SIGTERM of the holding node while an approved handler runs: the drain lets it finish, and its reply reaches the job', async () => {
    const { client, server } = await start();
    const res = await call(`${client.gateway}/server/guarded/slow//drained?ms=1500`, { method: 'POST', headers: { 'x-request-id': 'review-drain' } });
    const { job, hold } = res.json();
    expect((await decide(server.gateway, hold, 'approve')).status).toBe(200);
    await waitFor(() => ledger('review-drain').length === 1, 'the approved handler to start');
    // A graceful stop: SPEC §1 drains in-flight work for up to 10 s; the handler needs 1.5 s.
    expect(await server.stop()).toBe(0);
    const again = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pair!.pipePort}`, ...holdArgs(certs, 'server', 'server')], holdEnv(certs));
    extra.push(again);
    const done = await settledJob(client.gateway, job, 30_000);
    const result = (await call(`${client.gateway}/_rp/jobs/${job}/result`)).json();
    console.log(`[review] approved handler under SIGTERM: job ${done.status}, result ${JSON.stringify(result).slice(0, 160)}`);
    expect(done.status).toBe('succeeded');
    expect(result).toMatchObject({ slow: 'drained' });
  }, 90_000);

  it('outcomes nobody fetches (their jobs were cancelled) do not stop a reconnecting sender from hearing of a new outcome', async () => {
    const { client, server } = await start();
    const inBatches = async <T>(count: number, each: (i: number) => Promise<T>): Promise<T[]> => {
      const out: T[] = [];
      for (let i = 0; i < count; i += 50) out.push(...(await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, j) => each(i + j)))));
      return out;
    };
    // 1001 held calls whose jobs the caller cancels, and which the approver then denies.
    const orphans = await inBatches(1001, async (i) => (await call(`${client.gateway}/server/guarded/run//orphan-${i}`, { method: 'POST' })).json());
    await inBatches(orphans.length, async (i) => expect((await call(`${client.gateway}/_rp/jobs/${orphans[i].job}`, { method: 'DELETE' })).status).toBe(200));
    // Cancelling withdraws them (denied by the sender); a person denying one too late gets 409.
    await inBatches(orphans.length, async (i) => expect([200, 409]).toContain((await decide(server.gateway, orphans[i].hold, 'deny')).status));

    // A real one, decided while its sender is down.
    const { job, hold } = (await call(`${client.gateway}/server/guarded/run//after-orphans`, { method: 'POST', headers: { 'x-request-id': 'review-orphans' } })).json();
    await kill9(pair!.client);
    expect((await decide(server.gateway, hold, 'approve')).status).toBe(200);
    await waitFor(() => ledger('review-orphans').length === 1, 'the handler to run while the sender is down');
    const back = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${pair!.pipePort}`, '--server-name', 'localhost', ...holdArgs(certs, 'client', 'node-a')], holdEnv(certs));
    extra.push(back);
    const status = await settledJob(back.gateway, job, 15_000).then((v) => v.status, async () => `still ${(await jobView(back.gateway, job)).status} after 15 s`);
    console.log(`[review] after 1001 unfetched outcomes, the job whose hold was approved while its sender was down: ${status}`);
    expect(status).toBe('succeeded');
  }, 180_000);

  it('a peer sending HoldNotice frames whose "hold" is no hold id (1 MiB each) is refused as a protocol error, not remembered', async () => {
    const { server } = await start();
    const mallory = issueCertificate(certs.ca, 'client', { name: 'mallory' });
    const peer = await RawPeer.connect(pair!.pipePort, mallory, certs.ca.certPem);
    try {
      peer.hello();
      await waitFor(() => peer.frames.some((f) => f.kind === 'helloAck'), 'the HelloAck');
      const before = rssOf(server.pid!);
      const NOTICES = 48;
      for (let i = 0; i < NOTICES; i += 1) peer.send({ kind: 'holdNotice', holdNotice: { hold: `${i}-${'x'.repeat(1 << 20)}` } });
      peer.send({ kind: 'ping', ping: { seq: 7 } });
      await waitFor(() => peer.closed || peer.frames.some((f) => f.kind === 'pong' && f.pong.seq === 7), 'the pong after the notices', 20_000);
      // Informational: how much the server kept of what it was sent (the early-notice map keeps up to 4096).
      let grown = 0;
      await waitFor(() => {
        grown = Math.max(grown, rssOf(server.pid!) - before);
        return grown > NOTICES * (1 << 20) * 0.75;
      }, 'memory', 3_000).catch(() => undefined);
      console.log(`[review] ${NOTICES} HoldNotice frames of 1 MiB: rp-server RSS grew by ${(grown / 2 ** 20).toFixed(0)} MiB; connection closed: ${peer.closed}, goaway: ${peer.goawayReason()}`);
      await waitFor(() => peer.closed, 'the server to close the connection of a peer that sent a HoldNotice that names no hold', 5_000);
      expect(peer.goawayReason()).toBe('protocol_error');
    } finally {
      peer.destroy();
    }
  }, 60_000);
});

describe('holds review: a hand-driven peer against a real PipeServer', () => {
  const pki = new TestPki();
  const pipes = new PipeFixture(pki);
  let gateway: FastifyInstance | undefined;
  let peer: RawPeer | undefined;

  afterEach(async () => {
    peer?.destroy();
    await gateway?.close();
    gateway = undefined;
    await pipes.closeAll();
  });
  afterAll(() => pipes.closeAll());

  async function eventAt(raw: RawPeer, nth: number) {
    const frame = await waitFor(() => raw.frames.filter((f) => f.kind === 'event')[nth], `event ${nth} at the raw peer`);
    if (frame.kind !== 'event') throw new Error('not an event');
    return frame.event;
  }

  it('a HELD reply to a node with no data directory (it never said it takes holds) is 502 ProtocolError, not a 200', async () => {
    const server: PipeServer & { port: number } = await pipes.server();
    const listening = await listenServerGateway(server);
    gateway = listening.gateway;
    const base = listening.base;
    peer = await RawPeer.connect(server.port, pki.client('mallory'), pki.ca.certPem);
    peer.hello();
    await waitFor(() => server.isConnected('mallory'), 'mallory to register');

    const pending = call(`${base}/client/mallory/anything`);
    const event = await eventAt(peer, 0);
    peer.send(heldReply(event.id, '01ARZ3NDEKTSV4RRFFQ69G5FAV', new Date(Date.now() + 60_000).toISOString()));
    const res = await pending;
    console.log(`[review] HELD to a node without holds: HTTP ${res.status}, body ${res.text}`);
    expect(res.status).toBe(502);
    expect(res.json().exception.code).toBe('RP_ERR_PROTOCOL');
  }, 30_000);

  it("a job's expiry is moved past its hold once: a HELD answer to its collect does not push it further each time", async () => {
    const server: PipeServer & { port: number } = await pipes.server({ dataDir: mkdtempSync(join(tmpdir(), 'rp-review-')) });
    peer = await RawPeer.connect(server.port, pki.client('mallory'), pki.ca.certPem);
    peer.send(helloWithHolds());
    await waitFor(() => server.isConnected('mallory'), 'mallory to register');
    const hold = '01ARZ3NDEKTSV4RRFFQ69G5FAV';
    const holdExpiresAt = new Date(Date.now() + 3_600_000).toISOString();

    const id = await server.enqueue('mallory', { verb: 'post', noun: ['deploy'] });
    const first = await eventAt(peer, 0);
    peer.send(heldReply(first.id, hold, holdExpiresAt));
    const onHold = await waitFor(() => (server.job(id)?.status === 'on_hold' ? server.job(id) : undefined), 'the job on hold');

    const expiries = [onHold!.expiresAt];
    for (let round = 1; round <= 3; round += 1) {
      // The peer says the hold has an outcome; the job asks; the peer says "still held".
      peer.send({ kind: 'holdNotice', holdNotice: { hold } });
      const collect = await eventAt(peer, round);
      expect(collect.hold).toBe(hold);
      peer.send(heldReply(collect.id, hold, holdExpiresAt));
      const view = await waitFor(() => {
        const v = server.job(id);
        return v?.status === 'on_hold' && v.attempts > round ? v : undefined;
      }, `the job on hold again (${round})`);
      expiries.push(view!.expiresAt);
    }
    console.log(`[review] job expiry after each HELD: ${expiries.join(', ')}`);
    expect(new Set(expiries).size).toBe(1);
  }, 30_000);

  it("an approved handler's failure is the job's outcome, even when its code is one a live peer would mean as \"busy, try again\"", async () => {
    class Guarded extends EventHandler {
      authorize() {
        return holdFor({ reason: 'needs a person' });
      }

      post_deploy(): never {
        // What a handler gets from ctx.pipe.request() to a busy peer, and lets escape.
        throw new TooManyInFlightError('the downstream peer is busy');
      }
    }
    const server = await pipes.server({ dataDir: mkdtempSync(join(tmpdir(), 'rp-review-')), handler: new Guarded() });
    const client = await pipes.connectedClient(server.port, 'node-a', { dataDir: mkdtempSync(join(tmpdir(), 'rp-review-')) });
    const id = await client.enqueue({ verb: 'post', noun: ['deploy'] });
    const [pending] = await waitFor(() => {
      const list = server.durable!.holds.list('pending', 10);
      return list.length > 0 ? list : undefined;
    }, 'the hold');
    await server.durable!.holds.approve(pending!.hold, 'local');
    const ended = await waitFor(() => {
      const view = client.job(id);
      return view && ['succeeded', 'failed', 'expired'].includes(view.status) ? view : undefined;
    }, 'the job to end with the handler\'s failure', 10_000).catch(() => client.job(id));
    console.log(`[review] approved handler threw TooManyInFlightError: job ${ended?.status}, attempts ${ended?.attempts}, result ${JSON.stringify(ended?.result)}`);
    expect(ended).toMatchObject({ status: 'failed', result: { status: 503 } });
  }, 30_000);
});
