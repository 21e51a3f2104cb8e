/**
 * The harness for real nats-server clusters (test/helpers/nats-cluster.ts), checked with a real
 * NATS client: routes carry messages between servers, max_payload is what restpipe needs, client
 * TLS requires our certificate, a killed server comes back on its ports, and nothing is left behind.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Msg, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { NATS_MAX_PAYLOAD_BYTES, natsServerAvailable, startNatsCluster, type NatsCluster } from './helpers/nats-cluster.js';
import { settle, waitFor } from './helpers/wait.js';

const MB = 1024 * 1024;

/** Dead, or a zombie nobody reaped yet (a container's PID 1 may not reap). */
function isGone(pid: number): boolean {
  if (!existsSync('/proc/self/stat')) {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

describe.runIf(natsServerAvailable())('a real nats-server cluster', () => {
  const clients: NatsConnection[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((nc) => nc.close()));
  });

  /** A client of exactly one server, which does not move elsewhere. */
  async function client(url: string, options: NodeConnectionOptions = {}): Promise<NatsConnection> {
    const nc = await connect({ servers: url, reconnect: false, noRandomize: true, ...options });
    clients.push(nc);
    return nc;
  }

  /**
   * Subscribes on `to` and resolves once `from` reaches it: interest crosses a route a moment after
   * the subscriber's flush (nats-server #1142), so probes go until one arrives.
   */
  async function routedInbox(from: NatsConnection, to: NatsConnection, subject: string): Promise<Msg[]> {
    const received: Msg[] = [];
    to.subscribe(subject, {
      callback: (error, msg) => {
        if (error === null) received.push(msg);
      },
    });
    await to.flush();
    await waitFor(async () => {
      from.publish(subject, 'probe');
      await from.flush();
      return received.length > 0;
    }, `interest in ${subject} to reach ${from.info?.server_name}`);
    return received;
  }

  describe('routed, without TLS', () => {
    let cluster: NatsCluster;

    beforeAll(async () => {
      cluster = await startNatsCluster({ size: 3 });
    });

    afterAll(async () => {
      await cluster?.stop();
    });

    it('delivers a message published on server 0 to a subscriber on server 2', async () => {
      expect(cluster.urls).toHaveLength(3);
      expect(cluster.urls.every((url) => /^nats:\/\/127\.0\.0\.1:\d+$/.test(url))).toBe(true);
      const [pub, sub] = [await client(cluster.urls[0]!), await client(cluster.urls[2]!)];
      expect([pub.info?.server_name, sub.info?.server_name]).toEqual(['rp-0', 'rp-2']);
      const received = await routedInbox(pub, sub, 'harness.route');
      pub.publish('harness.route', 'hello from rp-0');
      await waitFor(() => received.some((m) => m.string() === 'hello from rp-0'), 'the message on rp-2');
    });

    it('announces a max_payload of 8 MB and carries a 7 MB message across a route', async () => {
      const [pub, sub] = [await client(cluster.urls[1]!), await client(cluster.urls[0]!)];
      expect(NATS_MAX_PAYLOAD_BYTES).toBe(8 * MB);
      expect(pub.info?.max_payload).toBe(8 * MB);
      expect(sub.info?.max_payload).toBe(8 * MB);
      const received = await routedInbox(pub, sub, 'harness.big');
      const body = Buffer.alloc(7 * MB);
      for (let i = 0; i < body.length; i += 4096) body.writeUInt32BE(i, i);
      pub.publish('harness.big', body);
      const big = await waitFor(() => received.find((m) => m.data.length > 100), 'the 7 MB message on rp-0');
      expect(Buffer.compare(Buffer.from(big.data), body)).toBe(0);
      expect(() => pub.publish('harness.big', Buffer.alloc(8 * MB + 1))).toThrow();
    });

    it('brings the routes back when a killed server restarts on the same ports', async () => {
      for (const server of cluster.servers) expect((await server.routes())?.numRoutes).toBe(2);
      const before = { port: cluster.servers[1]!.port, pid: cluster.servers[1]!.pid };
      await cluster.kill(1);
      expect(cluster.servers[1]!.running()).toBe(false);
      for (const i of [0, 2]) {
        await waitFor(async () => (await cluster.servers[i]!.routes())?.numRoutes === 1, `rp-${i} to drop its route to rp-1`);
      }
      await cluster.restart(1);
      expect(cluster.servers[1]!.port).toBe(before.port);
      expect(cluster.servers[1]!.pid).not.toBe(before.pid);
      const states = await Promise.all(cluster.servers.map((s) => s.routes()));
      expect(states.map((s) => s?.numRoutes)).toEqual([2, 2, 2]);
      expect(new Set(states.map((s) => s?.serverId)).size).toBe(3);
      const [pub, sub] = [await client(cluster.urls[1]!), await client(cluster.urls[2]!)];
      const received = await routedInbox(pub, sub, 'harness.back');
      pub.publish('harness.back', 'rp-1 is back');
      await waitFor(() => received.some((m) => m.string() === 'rp-1 is back'), 'the message from the restarted rp-1');
    });
  });

  describe('with client TLS', () => {
    let cluster: NatsCluster;

    beforeAll(async () => {
      cluster = await startNatsCluster({ size: 2, tls: true });
    });

    afterAll(async () => {
      await cluster?.stop();
    });

    it('lets in a client that presents the generated certificate, and routes its messages', async () => {
      const tls = cluster.tls!;
      expect(cluster.urls.every((url) => url.startsWith('tls://127.0.0.1:'))).toBe(true);
      const files = { caFile: tls.ca, certFile: tls.cert, keyFile: tls.key };
      const [pub, sub] = [await client(cluster.urls[0]!, { tls: files }), await client(cluster.urls[1]!, { tls: files })];
      expect(pub.info?.tls_required).toBe(true);
      expect(pub.info?.max_payload).toBe(8 * MB);
      const received = await routedInbox(pub, sub, 'harness.tls');
      pub.publish('harness.tls', 'over TLS');
      await waitFor(() => received.some((m) => m.string() === 'over TLS'), 'the message on rp-1');
    });

    it('refuses a client without a certificate', async () => {
      const server = cluster.servers[0]!;
      const logged = server.log().length;
      const result = await settle(connect({ servers: server.url, reconnect: false, timeout: 5_000, tls: { caFile: cluster.tls!.ca } }));
      if (result.ok) clients.push(result.value);
      expect(result.ok).toBe(false);
      // The server, not our own trust settings, turned it away.
      await waitFor(() => /TLS handshake error/.test(server.log().slice(logged)), 'nats-server to log the refused handshake');
      expect(server.running()).toBe(true);
    });
  });

  it('fails to start with the tail of the nats-server log, and removes its temp dir', async () => {
    // nats-server refuses a max_payload above max_pending (64 MB) and exits.
    const result = await settle(startNatsCluster({ size: 1, maxPayload: '70MB' }));
    expect(result.ok).toBe(false);
    const message = result.ok ? '' : result.error.message;
    expect(message).toMatch(/rp-0 exited \(code 1\)/);
    expect(message).toMatch(/max_payload \(73400320\) cannot be higher than max_pending/);
    const dir = /--- (\S+)\/rp-0\.log \(last lines\)/.exec(message)?.[1];
    expect(dir).toBeDefined();
    expect(existsSync(dir!)).toBe(false);
  });

  it('leaves no nats-server and no temp dir behind when its test process is SIGKILLed', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/fixtures/nats-orphan.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const line = await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`the fixture exited ${child.exitCode}: ${output}`);
      return output.split('\n').find((l) => l.startsWith('{"dir"'));
    }, 'the fixture to start its cluster', 25_000);
    const { dir, pids } = JSON.parse(line) as { dir: string; pids: number[] };
    expect(pids).toHaveLength(2);
    expect(pids.every((pid) => !isGone(pid))).toBe(true);
    expect(existsSync(dir)).toBe(true);
    child.kill('SIGKILL');
    await waitFor(() => pids.every(isGone) && !existsSync(dir), 'the reaper to kill rp-0 and rp-1 and remove the temp dir');
  });
});
