/**
 * SPEC §8's exactly-once effect for synchronous calls with `Idempotency-Key`, from real
 * processes: a repeat is replayed from the receiver's store (the handler's ledger proves it
 * did not run again), a changed request is 422, a running one 409, keys are per sending
 * peer, they survive kill -9 of the receiver, and a key whose handler was running at the
 * kill is never run again (500 IndeterminateError). Then `Prefer: respond-async` with a key,
 * and the library's enqueue()/job() on in-process pipes.
 */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DefaultHandler, NotEnabledError } from '@restpipe/core';
import { ROOT } from './helpers/cli.js';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { usePipeFixture } from './helpers/pipes.js';
import { call, type HttpAnswer } from './helpers/http.js';
import { settle, waitFor } from './helpers/wait.js';

const FIXTURE = join(ROOT, 'test/fixtures/jobs-http-handler.ts');
const JSON_TYPE = { 'content-type': 'application/json' };


function expectError(res: HttpAnswer, status: number, cls: string): void {
  expect({ status: res.status, text: res.text }).toMatchObject({ status });
  expect(res.json().exception.class).toBe(cls);
}

function post(gateway: string, path: string, key: string, body: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return call(`${gateway}${path}`, { method: 'POST', headers: { ...JSON_TYPE, 'idempotency-key': key, ...headers }, body: JSON.stringify(body) });
}

describe('Idempotency-Key on synchronous calls, real processes', () => {
  let certs: CertDir;
  let pipePort: number;
  let server: NodeProcess;
  let nodeA: NodeProcess;
  let nodeB: NodeProcess;

  const handler = (role: 'server' | 'client'): string[] => ['--handler', `${join(certs.dir, 'jobs-http-handler.ts')}#${role === 'server' ? 'ServerSide' : 'ClientSide'}`];
  const startServer = (): Promise<NodeProcess> =>
    startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, '--data-dir', join(certs.dir, 'data', 'server'), ...handler('server')]);
  const startClient = (name: string): Promise<NodeProcess> =>
    startNode('client', certs, name, ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', '--data-dir', join(certs.dir, 'data', name), ...handler('client')]);
  /** The handler's runs, as its ledger has them (it survives the server's kill -9). */
  const ran = (line: string): number => readFileSync(certs.hookLog, 'utf8').split('\n').filter((l) => l === line).length;
  const ready = (node: NodeProcess): Promise<boolean> => waitFor(async () => (await fetch(`${node.gateway}/_rp/ready`)).ok, 'the pipe to be up', 30_000, 50);

  async function restartServerHard(): Promise<void> {
    server.kill('SIGKILL');
    await new Promise((resolve) => (server.exitCode !== null || server.signalCode !== null ? resolve(null) : server.once('exit', resolve)));
    server = await startServer();
    await ready(nodeA);
  }

  beforeAll(async () => {
    certs = new CertDir(['node-a', 'node-b']);
    copyFileSync(FIXTURE, join(certs.dir, 'jobs-http-handler.ts'));
    pipePort = await freePort();
    server = await startServer();
    [nodeA, nodeB] = await Promise.all([startClient('node-a'), startClient('node-b')]);
    await Promise.all([ready(nodeA), ready(nodeB)]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([nodeA?.stop(), nodeB?.stop(), server?.stop()]);
  });

  it('replays a finished key: the stored reply with Idempotent-Replayed: true, and the handler does not run again', async () => {
    const first = await post(nodeA.gateway, '/server/count?tag=r1', 'key-r1', { n: 1 });
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(first.json()).toEqual({ side: 'server', got: { n: 1 }, peer: 'node-a' });
    for (let i = 0; i < 2; i++) {
      const again = await post(nodeA.gateway, '/server/count?tag=r1', 'key-r1', { n: 1 });
      expect(again.status).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.text).toBe(first.text);
      expect(again.headers.get('x-event-return-code')).toBe(first.headers.get('x-event-return-code'));
      expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
    }
    expect(ran('server:count:r1:node-a')).toBe(1);
  });

  it('replays a stored 500 failure the same way, without running the handler again', async () => {
    const first = await post(nodeA.gateway, '/server/fail?tag=f1', 'key-f1', {});
    expectError(first, 500, 'Error');
    expect(first.headers.get('x-event-return-code')).toBe('251');
    const again = await post(nodeA.gateway, '/server/fail?tag=f1', 'key-f1', {});
    expect(again.status).toBe(500);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('x-event-return-code')).toBe('251');
    expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(again.text).toBe(first.text);
    expect(ran('server:fail:f1')).toBe(1);
  });

  it('answers 422 IdempotencyKeyMismatchError for the same key with another body, query or args, and runs nothing', async () => {
    expect((await post(nodeA.gateway, '/server/count?tag=m1', 'key-m1', { n: 1 })).status).toBe(200);
    expectError(await post(nodeA.gateway, '/server/count?tag=m1', 'key-m1', { n: 2 }), 422, 'IdempotencyKeyMismatchError');
    expectError(await post(nodeA.gateway, '/server/count?tag=m1&extra=1', 'key-m1', { n: 1 }), 422, 'IdempotencyKeyMismatchError');
    expectError(await post(nodeA.gateway, '/server/count//arg?tag=m1', 'key-m1', { n: 1 }), 422, 'IdempotencyKeyMismatchError');
    const mismatch = await call(`${nodeA.gateway}/server/count?tag=m1`, { method: 'PUT', headers: { ...JSON_TYPE, 'idempotency-key': 'key-m1' }, body: '{"n":1}' });
    expect(mismatch.status).toBe(422);
    expect(mismatch.json().exception.code).toBe('RP_ERR_IDEMPOTENCY_KEY_MISMATCH');
    expect(ran('server:count:m1:node-a')).toBe(1);
  });

  it('answers 409 IdempotencyKeyInUseError while the first request with the key still runs, then replays its reply', async () => {
    const first = post(nodeA.gateway, '/server/slow?tag=u1', 'key-u1', {});
    await waitFor(() => ran('server:slow:start:u1') === 1, 'the slow handler to start');
    expectError(await post(nodeA.gateway, '/server/slow?tag=u1', 'key-u1', {}), 409, 'IdempotencyKeyInUseError');
    writeFileSync(join(certs.dir, 'release-u1'), '');
    const done = await first;
    expect(done.status).toBe(200);
    const again = await post(nodeA.gateway, '/server/slow?tag=u1', 'key-u1', {});
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.text).toBe(done.text);
    expect(ran('server:slow:start:u1')).toBe(1);
  });

  it('scopes keys per sending peer: node-a and node-b with the same key and different bodies both run', async () => {
    const a = await post(nodeA.gateway, '/server/count?tag=shared', 'key-shared', { from: 'a' });
    const b = await post(nodeB.gateway, '/server/count?tag=shared', 'key-shared', { from: 'b' });
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.json()).toMatchObject({ got: { from: 'a' }, peer: 'node-a' });
    expect(b.json()).toMatchObject({ got: { from: 'b' }, peer: 'node-b' });
    expect(b.headers.get('idempotent-replayed')).toBeNull();
    expect([ran('server:count:shared:node-a'), ran('server:count:shared:node-b')]).toEqual([1, 1]);
  });

  it('Prefer: respond-async with the same key and request twice makes one job; another request with it is 422', async () => {
    const headers = { prefer: 'respond-async' };
    const first = await post(nodeA.gateway, '/server/count?tag=j1', 'key-j1', { job: 1 }, headers);
    expect(first.status).toBe(202);
    const second = await post(nodeA.gateway, '/server/count?tag=j1', 'key-j1', { job: 1 }, headers);
    expect(second.status).toBe(202);
    expect(second.json().job).toBe(first.json().job);
    expectError(await post(nodeA.gateway, '/server/count?tag=j1', 'key-j1', { job: 2 }, headers), 422, 'IdempotencyKeyMismatchError');
    await waitFor(async () => (await call(`${nodeA.gateway}/_rp/jobs/${first.json().job}`)).json().status === 'succeeded', 'the job to succeed');
    const jobs = (await call(`${nodeA.gateway}/_rp/jobs?limit=1000`)).json() as Array<{ noun: string; job: string }>;
    expect(jobs.filter((j) => j.job === first.json().job)).toHaveLength(1);
    expect(ran('server:count:j1:node-a')).toBe(1);
  });

  it('keeps a finished key across a kill -9 and restart of the receiving node: the repeat is replayed', async () => {
    const first = await post(nodeA.gateway, '/server/count?tag=k1', 'key-k1', { n: 1 });
    expect(first.status).toBe(200);
    await restartServerHard();
    const again = await post(nodeA.gateway, '/server/count?tag=k1', 'key-k1', { n: 1 });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.text).toBe(first.text);
    expect(ran('server:count:k1:node-a')).toBe(1);
  }, 60_000);

  it('never runs again a key whose handler was running when the receiver was killed -9: 500 IndeterminateError', async () => {
    const first = post(nodeA.gateway, '/server/slow?tag=k9', 'key-k9', {});
    await waitFor(() => ran('server:slow:start:k9') === 1, 'the slow handler to start');
    // Released at once after the restart: a handler run again would end, and say so.
    writeFileSync(join(certs.dir, 'release-k9'), '');
    server.kill('SIGKILL');
    expectError(await first, 502, 'PeerDisconnectedError');
    await restartServerHard();
    const again = await post(nodeA.gateway, '/server/slow?tag=k9', 'key-k9', {});
    expectError(again, 500, 'IndeterminateError');
    expect(again.json().exception.code).toBe('RP_ERR_INDETERMINATE');
    expectError(await post(nodeA.gateway, '/server/slow?tag=k9', 'key-k9', {}), 500, 'IndeterminateError');
    expect(ran('server:slow:start:k9')).toBe(1);
    expect(ran('server:slow:end:k9')).toBe(0);
  }, 60_000);
});

describe('library API: enqueue() and job() on in-process pipes', () => {
  const pipes = usePipeFixture();
  const dir = (): string => mkdtempSync(join(tmpdir(), 'rp-idem-lib-'));

  it('client.enqueue() resolves a job id, and client.job(id) shows it succeeded once delivered; server.enqueue() likewise', async () => {
    const fixture = pipes.fixture();
    const server = await fixture.server({ handler: new DefaultHandler('server'), dataDir: dir() });
    const client = await fixture.connectedClient(server.port, 'node-a', { handler: new DefaultHandler('client'), dataDir: dir() });

    const up = await client.enqueue({ noun: 'time' });
    expect(up).toMatch(/^[0-9A-Z]{26}$/);
    const upDone = await waitFor(() => (client.job(up)?.status === 'succeeded' ? client.job(up) : undefined), 'the client job to succeed');
    expect(upDone).toMatchObject({ job: up, target: 'server', verb: 'get', noun: 'time', attempts: 1, hold: null, result: { status: 200, returnCode: 0, mimeType: 'application/json' } });

    const down = await server.enqueue('node-a', { verb: 'get', noun: ['cat'], args: ['a', 'b'] });
    const downDone = await waitFor(() => (server.job(down)?.status === 'succeeded' ? server.job(down) : undefined), 'the server job to succeed');
    expect(downDone).toMatchObject({ job: down, target: 'client/node-a', noun: 'cat', result: { status: 200 } });
    expect(downDone.result!.bytes).toBe(Buffer.byteLength(JSON.stringify({ result_from_client: 'ab' })));
    expect(client.job('01ARZ3NDEKTSV4RRFFQ69G5FAV')).toBeUndefined();
  });

  it('without a dataDir, enqueue() rejects and job() throws NotEnabledError, on both sides', async () => {
    const fixture = pipes.fixture();
    const server = await fixture.server({ handler: new DefaultHandler('server') });
    const client = await fixture.connectedClient(server.port, 'node-a');
    for (const outcome of [await settle(client.enqueue({ noun: 'time' })), await settle(server.enqueue('node-a', { noun: 'time' }))]) {
      expect(outcome.ok).toBe(false);
      expect(!outcome.ok && outcome.error).toBeInstanceOf(NotEnabledError);
    }
    expect(() => client.job('01ARZ3NDEKTSV4RRFFQ69G5FAV')).toThrow(NotEnabledError);
    expect(() => server.job('01ARZ3NDEKTSV4RRFFQ69G5FAV')).toThrow(NotEnabledError);
  });
});
