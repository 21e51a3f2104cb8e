/**
 * SPEC §8 end to end, with real rp-server/rp-client processes on real data dirs: jobs
 * queued for an absent peer drain when it comes, survive kill -9 of either side, and
 * run exactly once (or, when the outcome is unknown, never again), as the handler's
 * fsynced ledger shows.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { FaultProxy } from './helpers/fault-proxy.js';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { waitFor } from './helpers/wait.js';
import type { JobView } from '@restpipe/core';

const HEARTBEAT = ['--heartbeat-ms', '200'];
const FINAL = new Set(['succeeded', 'failed', 'expired', 'cancelled']);

interface Run {
  side: string;
  attempt: number;
  key: string;
}

/** Certificates (slow to make) and the handler's copy, shared by the file's tests. */
let shared: { certs: CertDir; handler: string } | undefined;

/** One test's world: its own ledger, a data dir per node, the nodes started. */
class World {
  readonly certs: CertDir;
  readonly handler: string;
  readonly dir: string;
  readonly ledger: string;
  readonly nodes: NodeProcess[] = [];
  readonly proxies: FaultProxy[] = [];

  constructor() {
    if (!shared) {
      const certs = new CertDir(['node-a', 'node-b']);
      const handler = join(certs.dir, 'job-ledger-handler.ts');
      copyFileSync(join(ROOT, 'test/fixtures/job-ledger-handler.ts'), handler);
      shared = { certs, handler };
    }
    ({ certs: this.certs, handler: this.handler } = shared);
    this.dir = mkdtempSync(join(this.certs.dir, 'world-'));
    this.ledger = join(this.dir, 'ledger.log');
    writeFileSync(this.ledger, '');
  }

  dataDir(node: string): string {
    const dir = join(this.dir, 'data', node);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  async server(port: number, extra: string[] = []): Promise<NodeProcess> {
    return this.#start('server', 'server', ['--listen', `127.0.0.1:${port}`, ...extra]);
  }

  async client(name: string, serverPort: number, extra: string[] = []): Promise<NodeProcess> {
    return this.#start('client', name, ['--server', `127.0.0.1:${serverPort}`, '--server-name', 'localhost', ...extra]);
  }

  async #start(role: 'server' | 'client', name: string, args: string[]): Promise<NodeProcess> {
    // The last --handler wins over startNode's default one.
    const node = await startNode(role, this.certs, name, [
      ...args, ...HEARTBEAT,
      '--data-dir', this.dataDir(name),
      '--handler', `${this.handler}#${role === 'server' ? 'ServerSide' : 'ClientSide'}`,
    ], { JOB_LEDGER: this.ledger });
    this.nodes.push(node);
    return node;
  }

  /** Handler runs by tag, from the ledger. */
  runs(): Map<string, Run[]> {
    const runs = new Map<string, Run[]>();
    for (const line of readFileSync(this.ledger, 'utf8').split('\n')) {
      const m = /^run (\S+) side=(\w+) attempt=(\d+) key=(\S*)$/.exec(line);
      if (!m) continue;
      runs.set(m[1]!, [...(runs.get(m[1]!) ?? []), { side: m[2]!, attempt: Number(m[3]), key: m[4]! }]);
    }
    return runs;
  }

  lines(): string[] {
    return readFileSync(this.ledger, 'utf8').split('\n').filter(Boolean);
  }

  async close(): Promise<void> {
    for (const proxy of this.proxies) await proxy.close();
    for (const node of this.nodes) if (node.exitCode === null && node.signalCode === null) node.kill('SIGKILL');
  }
}

/** Queues `POST gateway/path {"tag"}` with `Prefer: respond-async`; checks the 202 and answers the job id. */
async function enqueue(gateway: string, path: string, tag: string, headers: Record<string, string> = {}): Promise<string> {
  const response = await fetch(`${gateway}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', prefer: 'respond-async', ...headers },
    body: JSON.stringify({ tag }),
  });
  const body = (await response.json()) as { job: string; status: string; location: string };
  expect(response.status, JSON.stringify(body)).toBe(202);
  expect(response.headers.get('preference-applied')).toBe('respond-async');
  expect(body.job).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  expect(body.location).toBe(`/_rp/jobs/${body.job}`);
  expect(response.headers.get('location')).toBe(body.location);
  expect(body.status).toBe('queued');
  return body.job;
}

async function job(gateway: string, id: string): Promise<JobView> {
  const response = await fetch(`${gateway}/_rp/jobs/${id}`);
  expect(response.status).toBe(200);
  return (await response.json()) as JobView;
}

/** Polls until every job is final; fails at once if one ends other than `status`. */
async function waitAll(gateway: string, ids: string[], status: string, timeoutMs = 30_000): Promise<JobView[]> {
  let views: JobView[] = [];
  await waitFor(async () => {
    views = await Promise.all(ids.map((id) => job(gateway, id)));
    const wrong = views.find((v) => FINAL.has(v.status) && v.status !== status);
    if (wrong) throw new Error(`job ${wrong.job} ended ${wrong.status}, not ${status}: ${JSON.stringify(wrong)}`);
    return views.every((v) => v.status === status);
  }, `${ids.length} jobs to be ${status} (now ${JSON.stringify(Object.fromEntries(count(views.map((v) => v.status))))})`, timeoutMs, 100);
  return views;
}

function count(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

/** Every tag ran exactly once, on `side`, with its job's id as the key. */
function expectExactlyOnce(world: World, tags: Map<string, string>, side: string): void {
  const runs = world.runs();
  for (const [tag, id] of tags) {
    expect(runs.get(tag)?.length ?? 0, `runs of ${tag}`).toBe(1);
    expect(runs.get(tag)![0]).toMatchObject({ side, key: id });
  }
}

async function queueMany(gateway: string, path: string, prefix: string, n: number): Promise<Map<string, string>> {
  const tags = new Map<string, string>();
  for (let i = 0; i < n; i++) tags.set(`${prefix}${i}`, await enqueue(gateway, path, `${prefix}${i}`));
  return tags;
}

describe('durable jobs across real processes (SPEC §8)', () => {
  let world: World;
  afterEach(async () => world?.close());

  it('an offline queue drains when the client that never connected comes up', { timeout: 60_000 }, async () => {
    world = new World();
    const port = await freePort();
    const server = await world.server(port);
    const tags = await queueMany(server.gateway, '/client/node-a/run', 'a', 20);
    for (const id of tags.values()) expect(await job(server.gateway, id)).toMatchObject({ status: 'queued', target: 'client/node-a', attempts: 0 });
    expect(world.lines()).toEqual([]);

    await world.client('node-a', port);
    await waitAll(server.gateway, [...tags.values()], 'succeeded');
    expectExactlyOnce(world, tags, 'client');
    const [tag, id] = [...tags][0]!;
    const result = await fetch(`${server.gateway}/_rp/jobs/${id}/result`);
    expect(result.status).toBe(200);
    expect(await result.json()).toEqual({ ran: tag, side: 'client', attempt: 1 });
  });

  it('an offline queue drains when the server that was down comes up', { timeout: 60_000 }, async () => {
    world = new World();
    const port = await freePort(); // nobody listens there yet
    const client = await world.client('node-a', port);
    const tags = await queueMany(client.gateway, '/server/run', 'b', 20);
    for (const id of tags.values()) expect(await job(client.gateway, id)).toMatchObject({ status: 'queued', target: 'server' });

    await world.server(port);
    await waitAll(client.gateway, [...tags.values()], 'succeeded');
    expectExactlyOnce(world, tags, 'server');
  });

  it('kill -9 of the sender after its 202s loses nothing: restarted on its data dir, it delivers every job once', { timeout: 60_000 }, async () => {
    world = new World();
    const port = await freePort();
    let server = await world.server(port);
    const tags = await queueMany(server.gateway, '/client/node-a/run', 'k', 50);
    server.kill('SIGKILL');
    await waitFor(() => server.signalCode === 'SIGKILL', 'the server to die');

    server = await world.server(port);
    const queued = (await (await fetch(`${server.gateway}/_rp/jobs?status=queued&limit=1000`)).json()) as JobView[];
    expect(new Set(queued.map((v) => v.job))).toEqual(new Set(tags.values()));
    await world.client('node-a', port);
    await waitAll(server.gateway, [...tags.values()], 'succeeded');
    expectExactlyOnce(world, tags, 'client');
    const listed = (await (await fetch(`${server.gateway}/_rp/jobs?status=succeeded&limit=1000`)).json()) as JobView[];
    expect(new Set(listed.map((v) => v.job))).toEqual(new Set(tags.values()));
    for (let i = 1; i < listed.length; i++) expect(listed[i - 1]!.createdAt >= listed[i]!.createdAt).toBe(true);
  });

  it('kill -9 of the receiver mid-handler: the job fails 500 IndeterminateError and the handler never runs again', { timeout: 60_000 }, async () => {
    world = new World();
    const port = await freePort();
    const [first, client] = await Promise.all([world.server(port), world.client('node-a', port)]);
    let server = first;
    await waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`)).ok, 'the pipe to be up');
    const id = await enqueue(client.gateway, '/server/sleep?ms=60000', 'mid');
    await waitFor(() => world.runs().has('mid'), 'the handler to start', 20_000);
    server.kill('SIGKILL');
    await waitFor(() => server.signalCode === 'SIGKILL', 'the server to die');
    expect(world.lines()).toEqual([`run mid side=server attempt=1 key=${id}`]);

    server = await world.server(port);
    const [view] = await waitAll(client.gateway, [id], 'failed');
    expect(view!.attempts).toBeGreaterThanOrEqual(2);
    expect(view!.result).toMatchObject({ status: 500 });
    const result = await fetch(`${client.gateway}/_rp/jobs/${id}/result`);
    expect(result.status).toBe(500);
    const envelope = (await result.json()) as { exception: { class: string; code: string } };
    expect(envelope.exception).toMatchObject({ class: 'IndeterminateError', code: 'RP_ERR_INDETERMINATE' });
    // The key was started by the dead boot: the restarted server refused it without running it.
    expect(world.lines()).toEqual([`run mid side=server attempt=1 key=${id}`]);
  });

  it('kill -9 of the sender while its job runs: redelivered with the same key, answered from the record, succeeded', { timeout: 60_000 }, async () => {
    world = new World();
    const port = await freePort();
    const [first, client] = await Promise.all([world.server(port), world.client('node-a', port)]);
    let server = first;
    await waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`)).ok, 'the pipe to be up');
    const id = await enqueue(server.gateway, '/client/node-a/sleep?ms=1500', 'redo');
    await waitFor(() => world.runs().has('redo'), 'the handler to start', 20_000);
    server.kill('SIGKILL');
    await waitFor(() => server.signalCode === 'SIGKILL', 'the server to die');
    // The client's handler ends, and records its reply, with nobody to send it to.
    await waitFor(() => world.lines().includes('done redo side=client'), 'the handler to end', 20_000);

    server = await world.server(port);
    const [view] = await waitAll(server.gateway, [id], 'succeeded');
    expect(view!.attempts).toBe(2);
    // The reply of the first (and only) run: attempt 1, though the job's second delivery got it.
    const result = await fetch(`${server.gateway}/_rp/jobs/${id}/result`);
    expect(result.status).toBe(200);
    expect(await result.json()).toEqual({ ran: 'redo', side: 'client', attempt: 1, slept: 1500 });
    expect(world.runs().get('redo')).toEqual([{ side: 'client', attempt: 1, key: id }]);
  });

  it('a partition with jobs queued and running both ways, then healing: every job succeeds, each ran once', { timeout: 90_000 }, async () => {
    world = new World();
    const port = await freePort();
    const proxy = await new FaultProxy(port).start();
    world.proxies.push(proxy);
    const [server, client] = await Promise.all([world.server(port), world.client('node-a', proxy.port)]);
    await waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`)).ok, 'the pipe to be up');

    const [up, down] = await Promise.all([
      queueMany(client.gateway, '/server/sleep?ms=800', 'up', 25),
      queueMany(server.gateway, '/client/node-a/sleep?ms=800', 'down', 25),
    ]);
    await waitFor(() => world.runs().size >= 10, 'some handlers to start', 20_000);
    proxy.blackholed = true;
    // The link dies (3 heartbeats); the handlers caught in it end unheard; more jobs queue behind it.
    await waitFor(async () => !(await fetch(`${client.gateway}/_rp/ready`)).ok, 'the client to see the link dead', 20_000);
    for (const [tag, id] of await queueMany(client.gateway, '/server/run', 'upq', 10)) up.set(tag, id);
    for (const [tag, id] of await queueMany(server.gateway, '/client/node-a/run', 'downq', 10)) down.set(tag, id);
    await waitFor(() => world.lines().filter((l) => l.startsWith('done ')).length >= 10, 'the caught handlers to end', 20_000);
    proxy.blackholed = false;
    proxy.reset(); // half-open links and handshakes stalled in the blackhole

    const views = [
      ...(await waitAll(client.gateway, [...up.values()], 'succeeded', 60_000)),
      ...(await waitAll(server.gateway, [...down.values()], 'succeeded', 60_000)),
    ];
    expectExactlyOnce(world, up, 'server');
    expectExactlyOnce(world, down, 'client');
    const attempts = views.reduce((sum, v) => sum + v.attempts, 0);
    const redelivered = views.filter((v) => v.attempts > 1).length;
    console.log(`partition: ${views.length} jobs, ${attempts} attempts total, ${redelivered} redelivered, ${world.runs().size} handler runs, ${proxy.connectionsAccepted} connections`);
    expect(redelivered).toBeGreaterThan(0);
    expect(world.runs().size).toBe(views.length);
  });

  it('a job whose X-Job-Ttl-Ms runs out before its peer comes ends expired (504) and is never delivered', { timeout: 60_000 }, async () => {
    world = new World();
    const port = await freePort();
    const server = await world.server(port);
    const id = await enqueue(server.gateway, '/client/node-b/run', 'ttl', { 'x-job-ttl-ms': '1500' });
    const created = await job(server.gateway, id);
    expect(Date.parse(created.expiresAt) - Date.parse(created.createdAt)).toBe(1500);
    const [view] = await waitAll(server.gateway, [id], 'expired', 20_000);
    expect(view).toMatchObject({ attempts: 0, result: null });
    const result = await fetch(`${server.gateway}/_rp/jobs/${id}/result`);
    expect(result.status).toBe(504);
    expect(((await result.json()) as { exception: { class: string } }).exception.class).toBe('JobExpiredError');

    // The peer comes: a later job reaches it, the expired one never does.
    await world.client('node-b', port);
    const later = await enqueue(server.gateway, '/client/node-b/run', 'later');
    await waitAll(server.gateway, [later], 'succeeded');
    expect([...world.runs().keys()]).toEqual(['later']);
    expect(await job(server.gateway, id)).toMatchObject({ status: 'expired' });
  });
});
