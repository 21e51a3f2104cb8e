/**
 * SPEC §9 holds against a hostile peer and a hostile HTTP caller, from outside: real
 * rp-server/rp-client processes, and "mallory", a raw mutual-TLS peer with a valid client
 * certificate that speaks the wire by hand. Whatever mallory or a caller does, the node
 * stays up, other clients keep working, the fixture's ledger shows no handler ran twice,
 * and the answer is a clear error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_HOLD_TTL_MS, ReplyKind } from '@restpipe/core';
import { CertDir, freePort, startNode, startPair, type NodePair, type NodeProcess } from './helpers/nodes.js';
import { call } from './helpers/http.js';
import { waitFor } from './helpers/wait.js';
import { exceptionOf, heldReply, inAMinute, Mallory, rawPost, valueReply, type Reply } from './holds-hostile-peer.js';
import { decide, holdArgs, holdEnv, jobView, linesOf, settledJob } from './holds-helpers.js';

const DAY_MS = 86_400_000;

/** The node is up and a real client's plain request still gets through. */
async function stillWorks(node: NodeProcess, viaGateway: string): Promise<void> {
  expect(node.exitCode, node.output().slice(-2000)).toBeNull();
  const time = await call(`${viaGateway}/server/time`);
  expect(time.status, time.text).toBe(200);
}

describe('a hostile peer and caller against a holding rp-server (SPEC §9)', () => {
  let certs: CertDir;
  let pair: NodePair;
  let nodeA: NodeProcess;
  const peers: Mallory[] = [];
  let current: Mallory | undefined;
  const ledger = (requestId: string) => linesOf(holdEnv(certs)['HOLD_LEDGER']).filter((l) => l.requestId === requestId);
  /** A new mallory: the server closes the one before (duplicate_identity). */
  const mallory = async (options: { name?: string; holds?: boolean; hello?: boolean } = {}) => {
    const peer = await Mallory.connect(certs, pair.pipePort, options);
    peers.push(peer);
    if (options.hello !== false) current = peer;
    return peer;
  };
  const server = () => pair.server.gateway;
  const alive = () => stillWorks(pair.server, nodeA.gateway);
  const malloryJobs = async () => (await call(`${server()}/_rp/jobs?limit=1000`)).json().filter((j: any) => j.target === 'client/mallory');
  /** node-a asks the server for something it holds: its job (on node-a) and the hold (on the server). */
  const holdOnServer = async (tag: string, query = '') => {
    const res = await call(`${nodeA.gateway}/server/guarded/run//${tag}${query}`, { method: 'POST', headers: { 'x-request-id': tag, 'content-type': 'application/json' }, body: '{"secret":"s3cr3t"}' });
    expect(res.status, res.text).toBe(202);
    return res.json() as { job: string; hold: string; expiresAt: string };
  };

  beforeAll(async () => {
    certs = new CertDir(['node-a']);
    pair = await startPair(certs, holdArgs(certs, 'server', 'server'), holdArgs(certs, 'client', 'node-a'), holdEnv(certs));
    nodeA = pair.client;
  }, 60_000);

  afterAll(async () => {
    for (const peer of peers) peer.raw.destroy();
    await Promise.all([nodeA?.stop(), pair?.server.stop()]);
  });

  describe('HoldNotice frames', () => {
    it('a HoldNotice before Hello closes that connection only (protocol_error)', async () => {
      const early = await mallory({ hello: false });
      early.notice('01ARZ3NDEKTSV4RRFFQ69G5FAV');
      await waitFor(() => early.raw.closed, 'the server to close the connection');
      expect(early.raw.goawayReason()).toBe('protocol_error');
      await alive();
    });

    it("a flood of notices for random, huge and another peer's hold ids releases nothing; the real hold still works", async () => {
      // The server's job waits on node-a's hold (kept on node-a): only node-a may release it.
      const res = await call(`${server()}/client/node-a/guarded/run//flooded`, { method: 'POST', headers: { 'x-request-id': 'flooded' } });
      expect(res.status, res.text).toBe(202);
      const { job, hold } = res.json();
      const before = await jobView(server(), job);
      const m = await mallory();
      m.notice(hold);
      for (let i = 0; i < 5_000; i++) m.notice(`${i}-${Math.random().toString(36).slice(2)}`);
      m.notice(hold);
      // Frames are handled in order: once this is answered, every notice above was.
      expect(exceptionOf(await m.ask({ verb: 'get', noun: ['nothing'] })).class).toBe('UnknownHandlerError');
      expect(m.raw.closed).toBe(false);
      // Ids no hold can have: ignored, or a protocol error that closes that connection; either way nothing else.
      for (const odd of ['', '../../etc/passwd', "' OR 1=1 --", '\u0000\u202e', 'h'.repeat(100_000)]) {
        const peer = await mallory();
        peer.notice(odd);
        expect(['answered', 'protocol_error']).toContain(await peer.answeredOrRefused());
      }
      await new Promise((resolve) => setTimeout(resolve, 300)); // a wrongly released job would be delivered by now
      expect(await jobView(server(), job)).toMatchObject({ status: 'on_hold', hold, attempts: before.attempts });
      expect((await call(`${nodeA.gateway}/_rp/holds/${hold}`)).json().status).toBe('pending');
      await alive();
      expect((await decide(nodeA.gateway, hold, 'approve')).status).toBe(200);
      expect(await settledJob(server(), job)).toMatchObject({ status: 'succeeded' });
      expect(ledger('flooded')).toHaveLength(1);
    });
  });

  describe("Event{hold}: asking for a hold's outcome", () => {
    it("another client's hold is 404 UnknownHoldError, before and after its outcome, and mallory's asking never consumes it", async () => {
      const { job, hold } = await holdOnServer('not-yours');
      const m = await mallory();
      const ask = (verb: 'get' | 'delete' = 'get') => m.ask({ verb, noun: ['guarded', 'run'], args: ['not-yours'], hold });
      for (const verb of ['get', 'delete'] as const) { // a delete would withdraw it, were it mallory's
        const pending = await ask(verb);
        expect([pending.kind, pending.status, exceptionOf(pending).class]).toEqual([ReplyKind.EXCEPTION, 404, 'UnknownHoldError']);
      }
      expect((await call(`${server()}/_rp/holds/${hold}`)).json().status).toBe('pending');

      // node-a is away when the outcome is made, so the outcome waits, uncollected, on the server.
      await nodeA.stop();
      expect((await decide(server(), hold, 'approve')).status).toBe(200);
      await waitFor(() => ledger('not-yours').length === 1, 'the approved handler to run');
      for (let i = 0; i < 5; i++) {
        const after = await ask();
        expect([after.kind, after.status, exceptionOf(after).class]).toEqual([ReplyKind.EXCEPTION, 404, 'UnknownHoldError']);
        expect(Buffer.from(after.data).toString()).not.toContain('s3cr3t'); // the handler's reply echoes the body
      }
      nodeA = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${pair.pipePort}`, '--server-name', 'localhost', ...holdArgs(certs, 'client', 'node-a')], holdEnv(certs));
      expect(await settledJob(nodeA.gateway, job)).toMatchObject({ status: 'succeeded', hold });
      const result = await call(`${nodeA.gateway}/_rp/jobs/${job}/result`);
      expect(result.json()).toMatchObject({ side: 'server', ran: 'not-yours', body: { secret: 's3cr3t' }, peer: 'node-a' });
      expect(ledger('not-yours')).toHaveLength(1);
      await alive();
    }, 60_000);

    it("mallory's own approved hold: asking for it ten times at once gets ten copies of one outcome; the handler ran once", async () => {
      const m = await mallory();
      const made = await m.ask({ verb: 'post', noun: ['guarded', 'run'], args: ['own'], requestId: 'own-hold', mimeType: 'application/json', data: Buffer.from('{"k":1}') });
      expect(made.kind).toBe(ReplyKind.HELD);
      const { hold } = JSON.parse(Buffer.from(made.data).toString());
      const stillHeld = await m.ask({ noun: ['guarded', 'run'], hold });
      expect(stillHeld.kind).toBe(ReplyKind.HELD);
      expect((await decide(server(), hold, 'approve')).status).toBe(200);
      await waitFor(() => m.raw.frames.some((f) => f.kind === 'holdNotice' && f.holdNotice.hold === hold), 'the HoldNotice for mallory');
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => m.ask({ noun: ['guarded', 'run'], hold })));
      for (const o of outcomes) expect(JSON.parse(Buffer.from(o.data).toString())).toEqual({ side: 'server', ran: 'own', body: { k: 1 }, peer: 'mallory' });
      expect(ledger('own-hold')).toHaveLength(1);
    });

    it("mallory withdraws its own hold while 20 approvals race: one decision, and the handler runs only if it was approved", async () => {
      for (let round = 0; round < 3; round++) {
        const m = await mallory();
        const made = await m.ask({ verb: 'post', noun: ['guarded', 'run'], args: ['withdrawn'], requestId: `withdraw-${round}` });
        const { hold } = JSON.parse(Buffer.from(made.data).toString());
        const approvals = Array.from({ length: 20 }, () => decide(server(), hold, 'approve'));
        const withdrawal = await m.ask({ verb: 'delete', noun: ['guarded', 'run'], hold });
        const answers = await Promise.all(approvals);
        expect(withdrawal.kind, Buffer.from(withdrawal.data).toString()).toBe(ReplyKind.VALUE);
        const won = answers.filter((a) => a.status === 200);
        expect(won.length, answers.map((a) => a.status).join(',')).toBeLessThanOrEqual(1);
        for (const lost of answers.filter((a) => a.status !== 200)) expect([lost.status, lost.json().exception.class]).toEqual([409, 'HoldDecidedError']);
        const view = (await call(`${server()}/_rp/holds/${hold}`)).json();
        expect(view.history).toHaveLength(2);
        if (won.length === 1) {
          expect(view.status).toBe('approved');
          await waitFor(() => ledger(`withdraw-${round}`).length === 1, 'the approved handler');
        } else {
          expect(view).toMatchObject({ status: 'denied', decidedBy: 'peer:mallory' });
          expect(ledger(`withdraw-${round}`)).toEqual([]);
        }
      }
      await alive();
    });

    it('odd and huge hold ids are a clear 404, and the connection stays', async () => {
      const m = await mallory();
      for (const hold of ['../../../etc/passwd', "x' OR '1'='1", '\u202egnp.exe', 'H'.repeat(200_000)]) {
        const reply = await m.ask({ hold });
        expect([reply.kind, reply.status, exceptionOf(reply).class]).toEqual([ReplyKind.EXCEPTION, 404, 'UnknownHoldError']);
      }
      expect(m.raw.closed).toBe(false);
      await alive();
    });
  });

  describe("HELD replies from a peer to the server's events", () => {
    /** An HTTP caller asks mallory for something; mallory answers `reply`. */
    const callMallory = async (tag: string, reply: Reply) => {
      const m = current && !current.raw.closed ? current : await mallory();
      const [res, event] = await Promise.all([call(`${server()}/client/mallory/do//${tag}`, { method: 'POST', headers: { 'x-request-id': tag } }), m.answer(reply)]);
      return { res, event, m };
    };

    it('a HELD body that is not JSON, lacks fields, has a 10 KB reason, a bad expiresAt or an odd hold id fails that request 502 ProtocolError; no job is made', async () => {
      const bodies: unknown[] = [
        'not json at all', 'null', '[]', '"held"', { reason: 'r', expiresAt: inAMinute() },
        { hold: 'h1', reason: 'x'.repeat(10_240), expiresAt: inAMinute() },
        { hold: 'h1', reason: 7, expiresAt: inAMinute() },
        { hold: 'h1', reason: 'r', expiresAt: 'tomorrow' }, { hold: 'h1', reason: 'r', expiresAt: '2030-13-45T25:61:00Z' },
        { hold: 'h1', reason: 'r', expiresAt: 1_900_000_000_000 }, { hold: 'h1', reason: 'r' },
        { hold: '../../x', reason: 'r', expiresAt: inAMinute() }, { hold: 'héllo', reason: 'r', expiresAt: inAMinute() },
        { hold: '', reason: 'r', expiresAt: inAMinute() }, { hold: 'h'.repeat(65), reason: 'r', expiresAt: inAMinute() },
        { hold: 42, reason: 'r', expiresAt: inAMinute() },
      ];
      for (const [i, body] of bodies.entries()) {
        const { res, m } = await callMallory(`bad-held-${i}`, heldReply(body));
        expect([res.status, res.json().exception.class], JSON.stringify(body).slice(0, 80)).toEqual([502, 'ProtocolError']);
        expect(m.raw.closed).toBe(false);
      }
      expect(await malloryJobs()).toEqual([]);
      await alive();
    });

    it('a valid HELD makes a job on hold; mallory\'s notice sends it to ask, with the hold, and its answer ends the job once', async () => {
      const { res } = await callMallory('good-held', heldReply({ hold: 'mallory-hold-1', reason: 'ask mallory', expiresAt: inAMinute() }));
      expect(res.status, res.text).toBe(202);
      const { job } = res.json();
      expect(res.json()).toMatchObject({ status: 'on_hold', hold: 'mallory-hold-1', reason: 'ask mallory' });
      const m = current!;
      m.notice('mallory-hold-1');
      const asked = await m.answer(valueReply({ done: true }));
      // The ask carries the hold and the noun; the event itself is the peer's already.
      expect(asked).toMatchObject({ hold: 'mallory-hold-1', noun: ['do'], args: [] });
      expect(await settledJob(server(), job)).toMatchObject({ status: 'succeeded', hold: 'mallory-hold-1' });
      expect((await call(`${server()}/_rp/jobs/${job}/result`)).json()).toEqual({ done: true });
    });

    it('a HELD whose expiresAt is in the year 9999 is refused (502), so it cannot pin a job (and a --max-jobs slot) for millennia', async () => {
      const before = (await call(`${server()}/_rp/jobs?status=on_hold&limit=1000`)).json().length;
      const { res } = await callMallory('far-held', heldReply({ hold: 'forever', reason: 'r', expiresAt: '9999-12-31T23:59:59.999Z' }));
      // SPEC §7 bounds what a peer sends: no hold outlives MAX_HOLD_TTL_MS (30 days), a day allowed for clock skew.
      expect([res.status, res.json().exception.class]).toEqual([502, 'ProtocolError']);
      expect((await call(`${server()}/_rp/jobs?status=on_hold&limit=1000`)).json().length).toBe(before);
      // Just inside the bound is taken, and the job's expiry stays within it plus the job's own TTL.
      const near = new Date(Date.now() + MAX_HOLD_TTL_MS).toISOString();
      const ok = await callMallory('near-held', heldReply({ hold: 'month', reason: 'r', expiresAt: near }));
      expect(ok.res.status, ok.res.text).toBe(202);
      expect(Date.parse((await jobView(server(), ok.res.json().job)).expiresAt)).toBeLessThanOrEqual(Date.now() + MAX_HOLD_TTL_MS + DAY_MS);
    });
  });

  describe('decisions over HTTP', () => {
    it('20 approves and 20 denies at once: exactly one decision wins, the rest are 409, the handler runs at most once', async () => {
      for (let round = 0; round < 3; round++) {
        const tag = `race-${round}`;
        const { job, hold } = await holdOnServer(tag);
        const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => decide(server(), hold, (i + round) % 2 === 0 ? 'approve' : 'deny', { reason: `r${i}` })));
        const won = answers.filter((a) => a.status === 200);
        expect(won, answers.map((a) => a.status).join(',')).toHaveLength(1);
        for (const lost of answers.filter((a) => a.status !== 200)) expect([lost.status, lost.json().exception.class]).toEqual([409, 'HoldDecidedError']);
        const winner = won[0]!.json();
        const view = (await call(`${server()}/_rp/holds/${hold}`)).json();
        expect(view).toMatchObject({ status: winner.status, decisionReason: winner.decisionReason });
        expect(view.history).toHaveLength(2);
        const done = await settledJob(nodeA.gateway, job);
        expect(done.status).toBe(winner.status === 'approved' ? 'succeeded' : 'failed');
        expect(ledger(tag)).toHaveLength(winner.status === 'approved' ? 1 : 0);
      }
      await alive();
    });

    it('approvals fired across the moment of expiry: either one approved in time and the handler ran once, or the hold expired and nothing ran', async () => {
      const offsets = [-40, -20, -10, -5, 0, 5, 10, 20];
      const holds = await Promise.all(offsets.map((_, i) => holdOnServer(`edge-${i}`, '?ttl=800')));
      const outcomes = await Promise.all(holds.map(async ({ job, hold, expiresAt }, i) => {
        const at = Date.parse(expiresAt);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, at + offsets[i]! - Date.now())));
        const answers = await Promise.all([decide(server(), hold, 'approve'), decide(server(), hold, 'approve')]);
        for (const a of answers) expect([200, 409], a.text).toContain(a.status);
        const won = answers.filter((a) => a.status === 200);
        expect(won.length).toBeLessThanOrEqual(1);
        const done = await settledJob(nodeA.gateway, job);
        const view = (await call(`${server()}/_rp/holds/${hold}`)).json();
        if (won.length === 1) {
          expect(view.status).toBe('approved');
          expect(Date.parse(view.decidedAt)).toBeLessThan(at);
          expect(done.status).toBe('succeeded');
          expect(ledger(`edge-${i}`)).toHaveLength(1);
        } else {
          expect(view.status).toBe('expired');
          expect(done).toMatchObject({ status: 'failed', result: { status: 403, returnCode: 252 } });
          expect((await call(`${nodeA.gateway}/_rp/jobs/${job}/result`)).json().exception.class).toBe('HoldExpiredError');
          expect(ledger(`edge-${i}`)).toEqual([]);
        }
        return view.status as string;
      }));
      console.log(`approvals across expiry, offsets ${offsets.join(',')} ms: ${outcomes.join(',')}`);
    });

    it('huge, deep and mistyped decision bodies are clear 4xx errors and decide nothing', async () => {
      const { hold } = await holdOnServer('bodies');
      const post = (body: string | Buffer, type: string) => call(`${server()}/_rp/holds/${hold}/approve`, { method: 'POST', headers: { 'content-type': type }, body });
      const cases: Array<[string, string | Buffer, string, number, string]> = [
        ['a 100 KB reason', JSON.stringify({ reason: 'x'.repeat(100_000) }), 'application/json', 400, 'InvalidBodyError'],
        ['JSON nested 100000 deep', '['.repeat(100_000), 'application/json', 400, 'InvalidBodyError'],
        ['a form post', 'reason=yes&digest=0', 'application/x-www-form-urlencoded', 400, 'InvalidBodyError'],
        ['bytes that are not UTF-8', Buffer.from([0xff, 0xfe, 0x7b, 0x7d]), 'application/json', 400, 'InvalidBodyError'],
        ['a multipart body', '--b\r\ncontent-disposition: form-data; name="reason"\r\n\r\nx\r\n--b--', 'multipart/form-data; boundary=b', 400, 'InvalidBodyError'],
      ];
      for (const [what, body, type, status, cls] of cases) {
        const res = await post(body, type);
        expect(res.status, `${what}: ${res.text.slice(0, 200)}`).toBe(status);
        expect(res.json().exception.class, what).toBe(cls || res.json().exception.class);
      }
      for (const [what, opts] of [['declared', { declaredBytes: 5 << 20 }], ['chunked', { chunkedBytes: 6 << 20 }]] as const) {
        const res = await rawPost(server(), `/_rp/holds/${hold}/${what === 'declared' ? 'approve' : 'deny'}`, opts);
        expect(res.status, `a ${what} body over --max-event-bytes: ${res.text.slice(0, 200)}`).toBe(413);
        expect(JSON.parse(res.text).exception.class).toBeTypeOf('string');
      }
      expect((await call(`${server()}/_rp/holds/${hold}`)).json().status).toBe('pending');
      await alive();
    });

    it('path-traversal-ish and odd hold ids are 4xx, never 500, and decide nothing', async () => {
      const { hold } = await holdOnServer('odd-ids');
      const ids = ['..', '%2e%2e', '..%2F..%2Fetc%2Fpasswd', '%00', "'%20OR%20'1'%3D'1", '%E2%80%AE', `${hold}%00`, `${hold}%2F..`, 'x'.repeat(9_000), '*'];
      for (const id of ids) {
        for (const [method, suffix] of [['GET', ''], ['POST', '/approve'], ['POST', '/deny']] as const) {
          const res = await call(`${server()}/_rp/holds/${id}${suffix}`, { method });
          expect(res.status >= 400 && res.status < 500 ? res.status : -1, `${method} ${id.slice(0, 40)}${suffix}: ${res.status} ${res.text.slice(0, 200)}`).toBe(res.status);
          expect(typeof res.json().exception.class).toBe('string');
        }
      }
      expect((await call(`${server()}/_rp/holds/${hold}`)).json().status).toBe('pending');
      await alive();
    });
  });
});

describe('a hostile peer against an rp-server with --data-dir off (it says holds=false)', () => {
  let certs: CertDir;
  let server: NodeProcess;
  let nodeB: NodeProcess;
  let port: number;
  const peers: Mallory[] = [];

  beforeAll(async () => {
    certs = new CertDir(['node-b']);
    port = await freePort();
    server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${port}`, ...holdArgs(certs, 'server', 'off')], holdEnv(certs));
    nodeB = await startNode('client', certs, 'node-b', ['--server', `127.0.0.1:${port}`, '--server-name', 'localhost', ...holdArgs(certs, 'client', 'node-b')], holdEnv(certs));
    await waitFor(async () => (await call(`${nodeB.gateway}/_rp/ready`)).status === 200, 'node-b to connect');
  }, 60_000);

  afterAll(async () => {
    for (const peer of peers) peer.raw.destroy();
    await Promise.all([nodeB?.stop(), server?.stop()]);
  });

  const mallory = async () => {
    const peer = await Mallory.connect(certs, port);
    peers.push(peer);
    return peer;
  };

  it('its HelloAck says no holds; Event{hold} is 501 NotEnabledError and the connection stays', async () => {
    const m = await mallory();
    expect(m.helloAck()?.holds).toBeFalsy();
    const reply = await m.ask({ hold: '01ARZ3NDEKTSV4RRFFQ69G5FAV' });
    expect([reply.kind, reply.status, exceptionOf(reply).class]).toEqual([ReplyKind.EXCEPTION, 501, 'NotEnabledError']);
    expect(m.raw.closed).toBe(false);
    await stillWorks(server, nodeB.gateway);
  });

  it('a HoldNotice, which it never invited, closes that connection only (protocol_error)', async () => {
    const m = await mallory();
    m.notice('01ARZ3NDEKTSV4RRFFQ69G5FAV');
    await waitFor(() => m.raw.closed, 'the server to close mallory');
    expect(m.raw.goawayReason()).toBe('protocol_error');
    await stillWorks(server, nodeB.gateway);
  });

  it('a HELD reply to its event is a protocol breach: 502 ProtocolError for that request, never a 200 with the HELD body', async () => {
    const m = await mallory();
    const [res] = await Promise.all([
      call(`${server.gateway}/client/mallory/do//x`, { method: 'POST' }),
      m.answer(heldReply({ hold: 'sneaky', reason: 'r', expiresAt: inAMinute() })),
    ]);
    // Its Hello said it takes no holds, so the peer's HELD is a breach, not a success to pass on as 200.
    expect([res.status, res.json().exception?.class], res.text).toEqual([502, 'ProtocolError']);
    await stillWorks(server, nodeB.gateway);
  });
});

describe('huge HoldNotice ids on a node with a small heap', () => {
  let certs: CertDir;
  let server: NodeProcess;
  let nodeA: NodeProcess;
  let port: number;
  let peer: Mallory | undefined;

  beforeAll(async () => {
    certs = new CertDir(['node-a']);
    port = await freePort();
    // A 256 MB heap, as in a small container: what a peer can make the node keep becomes a crash, not slow growth.
    const env = { ...holdEnv(certs), NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --max-old-space-size=256` };
    server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${port}`, ...holdArgs(certs, 'server', 'server')], env);
    nodeA = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${port}`, '--server-name', 'localhost', ...holdArgs(certs, 'client', 'node-a')], holdEnv(certs));
    await waitFor(async () => (await call(`${nodeA.gateway}/_rp/ready`)).status === 200, 'node-a to connect');
  }, 60_000);

  afterAll(async () => {
    peer?.raw.destroy();
    await Promise.all([nodeA?.stop(), server?.stop()]);
  });

  it('120 notices of 4 MB ids (each within the frame limit) are not kept: the node stays up (a 256 MB heap takes as many bytes in events)', async () => {
    peer = await Mallory.connect(certs, port);
    // The control: as many bytes in events the node reads and forgets, which this heap takes
    // (their args are past what a sender may send, so they are refused before any handler).
    for (let i = 0; i < 120; i++) expect(exceptionOf(await peer.ask({ noun: ['nothing'], args: ['x'.repeat(4_000_000)] })).class).toBe('InvalidArgumentError');
    for (let i = 0; i < 120; i++) peer.notice(`${i}`.padEnd(4_000_000, 'x'));
    // Else the sender would remember each notice that found no job (held-jobs.ts, up to 4096 for 60 s):
    // 4096 ids of up to --max-event-bytes each is 16 GB. An id that no hold has is ignored or refused.
    const outcome = await peer.answeredOrRefused();
    expect(server.exitCode, /FATAL ERROR.*|.*out of memory.*/.exec(server.output())?.[0]).toBeNull();
    expect(['answered', 'protocol_error']).toContain(outcome);
    await stillWorks(server, nodeA.gateway);
  }, 60_000);
});
