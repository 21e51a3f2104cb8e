/**
 * SPEC §9 approval holds over HTTP, from real rp-server/rp-client processes, both ways: a
 * held event answers 202 with its job (synchronous caller or not), the holding node lists
 * it, a decision binds to its digest and is made once, approve runs authResponse then the
 * handler and the reply reaches the sender's job, deny and expiry end it 403 (252).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertDir, startPair, type NodePair } from './helpers/nodes.js';
import { call } from './helpers/http.js';
import { waitFor } from './helpers/wait.js';
import { decide, holdArgs, holdEnv, jobView, linesOf, settledJob } from './holds-helpers.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const HOLD_FIELDS = ['args', 'createdAt', 'decidedAt', 'decidedBy', 'decisionReason', 'digest', 'expiresAt', 'history', 'hold', 'noun', 'peer', 'query', 'reason', 'requestId', 'status', 'verb'];

describe('SPEC §9 holds, both directions', () => {
  let certs: CertDir;
  let pair: NodePair;
  const latencies: number[] = [];

  beforeAll(async () => {
    certs = new CertDir(['node-a']);
    pair = await startPair(certs, holdArgs(certs, 'server', 'server'), holdArgs(certs, 'client', 'node-a'), holdEnv(certs));
  }, 60_000);

  afterAll(async () => {
    await Promise.all([pair?.client.stop(), pair?.server.stop()]);
    if (latencies.length > 0) {
      const sorted = [...latencies].sort((a, b) => a - b);
      console.log(`approve-to-reply latency over ${sorted.length} holds: p50 ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms (target 1000 ms)`);
    }
  });

  const directions = [
    { name: 'client → server (held on the server)', sender: () => pair.client.gateway, holder: () => pair.server.gateway, prefix: '/server', peer: 'node-a', side: 'server' },
    { name: 'server → client (held on the client)', sender: () => pair.server.gateway, holder: () => pair.client.gateway, prefix: '/client/node-a', peer: 'server', side: 'client' },
  ];

  describe.each(directions)('$name', (d) => {
    it('a synchronous call is answered 202 with its job on hold; approve runs the handler once and the reply reaches the job', async () => {
      const res = await call(`${d.sender()}${d.prefix}/guarded/run//nginx?x=1`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': `sync-${d.side}` }, body: '{"why":"deploy"}' });
      expect(res.status, res.text).toBe(202);
      const body = res.json();
      expect(Object.keys(body).sort()).toEqual(['expiresAt', 'hold', 'job', 'location', 'reason', 'status']);
      expect(body).toMatchObject({ status: 'on_hold', reason: `${d.side}: post guarded/run needs a person`, location: `/_rp/jobs/${body.job}` });
      expect(res.headers.get('location')).toBe(`/_rp/jobs/${body.job}`);
      expect(body.expiresAt).toMatch(ISO);

      const job = await jobView(d.sender(), body.job);
      expect(job).toMatchObject({ job: body.job, status: 'on_hold', hold: body.hold, verb: 'post', noun: 'guarded/run' });

      const held = (await call(`${d.holder()}/_rp/holds/${body.hold}`)).json();
      expect(Object.keys(held).sort()).toEqual(HOLD_FIELDS);
      expect(held).toMatchObject({
        hold: body.hold, status: 'pending', peer: d.peer, verb: 'post', noun: 'guarded/run', args: ['nginx'], query: { x: '1' },
        reason: body.reason, expiresAt: body.expiresAt, decidedBy: null, decidedAt: null, decisionReason: null, requestId: `sync-${d.side}`,
      });
      expect(held.digest).toMatch(/^[0-9a-f]{64}$/);
      const listed = (await call(`${d.holder()}/_rp/holds`)).json();
      expect(listed[0].hold).toBe(body.hold);
      expect((await call(`${d.holder()}/_rp/holds?status=pending`)).json().map((h: any) => h.hold)).toContain(body.hold);
      expect(linesOf(holdEnv(certs)['HOLD_LEDGER']).filter((l) => l.requestId === `sync-${d.side}`)).toEqual([]);
      await waitFor(() => linesOf(holdEnv(certs)['HOLD_LOG']).some((l) => l.hook === 'onHold' && l.hold === body.hold), 'onHold');

      const started = performance.now();
      const approved = await decide(d.holder(), body.hold, 'approve', { reason: 'change 42' });
      expect(approved.status, approved.text).toBe(200);
      expect(approved.json()).toMatchObject({ hold: body.hold, status: 'approved', decidedBy: 'local', decisionReason: 'change 42' });
      const done = await waitFor(async () => {
        const view = await jobView(d.sender(), body.job);
        return view.status === 'succeeded' ? view : undefined;
      }, 'the job to succeed', 5_000, 2);
      latencies.push(performance.now() - started);
      expect(done.result).toMatchObject({ status: 200, returnCode: 0, mimeType: 'application/json' });
      const result = await call(`${d.sender()}/_rp/jobs/${body.job}/result`);
      expect(result.status).toBe(200);
      expect(result.json()).toEqual({ side: d.side, ran: 'nginx', body: { why: 'deploy' }, peer: d.peer });

      expect(linesOf(holdEnv(certs)['HOLD_LEDGER']).filter((l) => l.requestId === `sync-${d.side}`)).toHaveLength(1);
      expect(linesOf(holdEnv(certs)['HOLD_LOG']).filter((l) => l.hook === 'onHold' && l.hold === body.hold)).toHaveLength(1);
      const after = (await call(`${d.holder()}/_rp/holds/${body.hold}`)).json();
      expect(after.history.map((h: any) => [h.status, h.by])).toEqual([['pending', null], ['approved', 'local']]);

      for (const again of ['approve', 'deny'] as const) {
        const second = await decide(d.holder(), body.hold, again);
        expect(second.status).toBe(409);
        expect(second.json().exception.class).toBe('HoldDecidedError');
      }
    });

    it('deny ends the job 403 HoldDeniedError (252) with the reason; the handler never runs', async () => {
      const res = await call(`${d.sender()}${d.prefix}/guarded/run//deny-me`, { method: 'POST', headers: { 'x-request-id': `deny-${d.side}` } });
      const { job, hold } = res.json();
      const denied = await decide(d.holder(), hold, 'deny', { reason: 'not today' });
      expect(denied.json()).toMatchObject({ status: 'denied', decidedBy: 'local', decisionReason: 'not today' });
      const done = await settledJob(d.sender(), job);
      expect(done).toMatchObject({ status: 'failed', result: { status: 403, returnCode: 252 } });
      const result = await call(`${d.sender()}/_rp/jobs/${job}/result`);
      expect([result.status, result.headers.get('x-event-return-code'), result.json().exception.class]).toEqual([403, '252', 'HoldDeniedError']);
      expect(result.json().exception.message).toContain('not today');
      expect(linesOf(holdEnv(certs)['HOLD_LEDGER']).filter((l) => l.requestId === `deny-${d.side}`)).toEqual([]);
    });

    it('an undecided hold expires: the job ends 403 HoldExpiredError (252)', async () => {
      const res = await call(`${d.sender()}${d.prefix}/guarded/run//late?ttl=800`, { method: 'POST' });
      const { job, hold } = res.json();
      const done = await settledJob(d.sender(), job);
      expect(done).toMatchObject({ status: 'failed', result: { status: 403, returnCode: 252 } });
      const result = await call(`${d.sender()}/_rp/jobs/${job}/result`);
      expect(result.json().exception.class).toBe('HoldExpiredError');
      expect((await call(`${d.holder()}/_rp/holds/${hold}`)).json()).toMatchObject({ status: 'expired', decidedBy: null });
      const late = await decide(d.holder(), hold, 'approve');
      expect(late.status).toBe(409);
    });

    it('authResponse returning false turns an approval into a denial', async () => {
      const res = await call(`${d.sender()}${d.prefix}/guarded/run//refused?refuse=1`, { method: 'POST', headers: { 'x-request-id': `refuse-${d.side}` } });
      const { job, hold } = res.json();
      const answer = await decide(d.holder(), hold, 'approve');
      expect(answer.status).toBe(200);
      expect(answer.json()).toMatchObject({ status: 'denied', decidedBy: 'local', decisionReason: 'authResponse refused the approval' });
      expect((await settledJob(d.sender(), job)).result).toMatchObject({ status: 403, returnCode: 252 });
      expect(linesOf(holdEnv(certs)['HOLD_LEDGER']).filter((l) => l.requestId === `refuse-${d.side}`)).toEqual([]);
    });

    it('an async caller gets 202 queued, then the job shows on_hold and its hold; wait=N answers the on_hold 202', async () => {
      const queued = await call(`${d.sender()}${d.prefix}/guarded/run//async`, { method: 'POST', headers: { prefer: 'respond-async' } });
      expect(queued.json().status).toBe('queued');
      const onHold = await waitFor(async () => {
        const view = await jobView(d.sender(), queued.json().job);
        return view.status === 'on_hold' ? view : undefined;
      }, 'the job to go on hold');
      expect(onHold.hold).toMatch(/^[0-9A-Z]{26}$/);

      const waited = await call(`${d.sender()}${d.prefix}/guarded/run//waited`, { method: 'POST', headers: { prefer: 'respond-async, wait=10' } });
      expect(waited.status).toBe(202);
      expect(waited.json()).toMatchObject({ status: 'on_hold', reason: `${d.side}: post guarded/run needs a person` });
      expect(waited.json().hold).toMatch(/^[0-9A-Z]{26}$/);
      await decide(d.holder(), onHold.hold, 'approve');
      expect((await settledJob(d.sender(), queued.json().job)).status).toBe('succeeded');
    });

    it('a decision that names another digest is 409 HoldDigestMismatchError; the right digest is taken', async () => {
      const { hold, job } = (await call(`${d.sender()}${d.prefix}/guarded/run//digest`, { method: 'POST' })).json();
      const view = (await call(`${d.holder()}/_rp/holds/${hold}`)).json();
      const wrong = await decide(d.holder(), hold, 'approve', { digest: '0'.repeat(64) });
      expect([wrong.status, wrong.json().exception.class]).toEqual([409, 'HoldDigestMismatchError']);
      expect((await decide(d.holder(), hold, 'approve', { digest: view.digest })).json().status).toBe('approved');
      expect((await settledJob(d.sender(), job)).status).toBe('succeeded');
    });
  });

  it('bad input: unknown hold 404, a body that is not a JSON object 400, a bad status 400; nothing is decided', async () => {
    const unknown = await decide(pair.server.gateway, '01ARZ3NDEKTSV4RRFFQ69G5FAV', 'approve');
    expect([unknown.status, unknown.json().exception.class]).toEqual([404, 'UnknownHoldError']);
    expect((await call(`${pair.server.gateway}/_rp/holds/nope`)).status).toBe(404);
    const { hold } = (await call(`${pair.client.gateway}/server/guarded/run//bad`, { method: 'POST' })).json();
    for (const body of ['{', '[1]', '"x"', '{"reason": 7}', '{"digest": "ABC"}']) {
      const res = await call(`${pair.server.gateway}/_rp/holds/${hold}/approve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect([res.status, res.json().exception.class], body).toEqual([400, 'InvalidBodyError']);
    }
    expect((await call(`${pair.server.gateway}/_rp/holds?status=bogus`)).status).toBe(400);
    // A page of another site cannot decide (a "simple" cross-site POST needs no preflight), nor a body that is not JSON.
    const fromAfar = [
      { origin: 'http://evil.example' },
      { 'sec-fetch-site': 'cross-site' },
      { 'content-type': 'text/plain', body: '{"reason":"plain"}' },
    ];
    for (const { body, ...headers } of fromAfar) {
      const res = await call(`${pair.server.gateway}/_rp/holds/${hold}/approve`, { method: 'POST', headers, ...(body ? { body } : {}) });
      expect(res.status, JSON.stringify(headers)).toBe(headers['content-type'] ? 400 : 403);
    }
    const sameOrigin = new URL(pair.server.gateway).host;
    expect((await call(`${pair.server.gateway}/_rp/holds/${hold}`, { headers: { origin: `http://${sameOrigin}` } })).json().status).toBe('pending');
    expect((await call(`${pair.server.gateway}/_rp/holds/${hold}`)).json().status).toBe('pending');
    expect((await call(`${pair.server.gateway}/_rp/holds/${hold}/approve`)).status).toBe(404); // GET never decides
    expect((await call(`${pair.server.gateway}/_rp/holds/${hold}`)).json().status).toBe('pending');
  });
});
