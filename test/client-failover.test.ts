import { describe, expect, it } from 'vitest';
import { formatAddress, type PipeClient, type PipeClientOptions, type ReconnectingInfo, type ServerAddress } from '@restpipe/core';
import { BIN, runCli } from './helpers/cli.js';
import { FaultProxy } from './helpers/fault-proxy.js';
import { memoryLogger, type LogRecord } from './helpers/logs.js';
import { CertDir, freePort, startNode } from './helpers/nodes.js';
import { usePipeFixture, type PipeFixture } from './helpers/pipes.js';
import { waitFor } from './helpers/wait.js';

const suite = usePipeFixture();

const local = (port: number, host = '127.0.0.1'): ServerAddress => ({ host, port });

/** A client of `servers` (the fixture's host and port replaced by the list), with its log kept. */
function failoverClient(
  pipes: PipeFixture, name: string, servers: ServerAddress[], options: Partial<PipeClientOptions> = {},
): PipeClient & { records: LogRecord[] } {
  const logger = memoryLogger();
  const client = pipes.client(0, name, { servers, host: undefined, port: undefined, logger, ...options });
  return Object.assign(client, { records: logger.records });
}

/** The `server` field of every log record with this message, in order. */
function logged(client: { records: LogRecord[] }, msg: string): unknown[] {
  return client.records.filter((r) => r.msg === msg).map((r) => r.server);
}

describe('rp-client failover between servers (library)', () => {
  it('moves to the second server when the first closes, and the second reaches the client', async () => {
    const pipes = suite.fixture();
    const a = await pipes.server();
    const b = await pipes.server();
    const client = failoverClient(pipes, 'node-a', [local(a.port), local(b.port)]);
    expect(await client.connected(10_000)).toBe(true);
    expect(a.isConnected('node-a')).toBe(true);
    expect(client.server).toEqual(local(a.port));

    await a.close();
    await waitFor(() => b.isConnected('node-a') && client.isConnected, 'the client to be connected to B');
    expect(client.server).toEqual(local(b.port));
    const answer = await b.request('node-a', { noun: 'time' });
    expect(answer.returnCode).toBe(0);
    expect((answer.data as { time_from_client: number }).time_from_client).toBeGreaterThan(1e9);
    expect(logged(client, 'connected to server')).toEqual([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`]);
    expect(logged(client, 'disconnected from server')).toEqual([`127.0.0.1:${a.port}`]);
  });

  it('a lost connection moves on to the next server even though the first is still up', async () => {
    const pipes = suite.fixture();
    const a = await pipes.server();
    const b = await pipes.server();
    const proxy = await new FaultProxy(a.port).start();
    try {
      const client = failoverClient(pipes, 'node-a', [local(proxy.port), local(b.port)]);
      expect(await client.connected(10_000)).toBe(true);
      expect(a.isConnected('node-a')).toBe(true);

      proxy.reset();
      await waitFor(() => b.isConnected('node-a') && client.isConnected, 'the client to be connected to B');
      // The next attempt went to B, not back through the proxy to A.
      expect(proxy.connectionsAccepted).toBe(1);
      expect(client.server).toEqual(local(b.port));
      expect((await b.request('node-a', { noun: 'time' })).returnCode).toBe(0);
    } finally {
      await proxy.close();
    }
  });

  it('a Goaway moves the client on to the next server', async () => {
    const pipes = suite.fixture();
    const a = await pipes.server();
    const b = await pipes.server();
    const older = failoverClient(pipes, 'node-a', [local(a.port), local(b.port)]);
    expect(await older.connected(10_000)).toBe(true);
    const told = new Promise<string>((resolve) => older.once('disconnect', (_peer: unknown, reason: string) => resolve(reason)));

    // A second node-a on A only: A tells the older one Goaway duplicate_identity, and stays up.
    const newer = await pipes.connectedClient(a.port, 'node-a');
    expect(await told).toBe('goaway:duplicate_identity');
    await waitFor(() => b.isConnected('node-a'), 'the older client to be connected to B');
    // B sees the Hello before the client has read B's HelloAck and logged it.
    await waitFor(() => logged(older, 'connected to server').length === 2, 'the older client to log its connection to B');
    expect(older.server).toEqual(local(b.port));
    expect(newer.isConnected && a.isConnected('node-a')).toBe(true);
    expect(logged(older, 'connected to server')).toEqual([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`]);
  });

  it('connects to the second server when nothing listens at the first', async () => {
    const pipes = suite.fixture();
    const dead = await freePort();
    const b = await pipes.server();
    const client = failoverClient(pipes, 'node-a', [local(dead), local(b.port)]);
    const reconnecting: ReconnectingInfo[] = [];
    client.on('reconnecting', (info: ReconnectingInfo) => reconnecting.push(info));
    expect(await client.connected(10_000)).toBe(true);
    expect(b.isConnected('node-a')).toBe(true);
    expect(client.server).toEqual(local(b.port));
    expect(logged(client, 'connect failed')).toEqual([`127.0.0.1:${dead}`]);
    expect(logged(client, 'connected to server')).toEqual([`127.0.0.1:${b.port}`]);
    // The second attempt names the server it dials, and why the one before failed.
    expect(reconnecting).toHaveLength(1);
    expect(reconnecting[0]).toMatchObject({ attempt: 2, address: `127.0.0.1:${b.port}` });
    expect(reconnecting[0]!.error.message).toMatch(/ECONNREFUSED/);
    expect((await b.request('node-a', { noun: 'time' })).returnCode).toBe(0);
  });

  it('keeps trying every server in turn while none answers', async () => {
    const pipes = suite.fixture();
    const dead = [await freePort(), await freePort()];
    const client = failoverClient(pipes, 'node-a', dead.map((port) => local(port)), { reconnect: { minMs: 5, maxMs: 20 } });
    await waitFor(() => logged(client, 'connect failed').length >= 5, 'five failed attempts');
    const tried = logged(client, 'connect failed').slice(0, 5);
    const [first, second] = dead.map((port) => `127.0.0.1:${port}`);
    expect(tried).toEqual([first, second, first, second, first]);
  });

  // The certificate names one of the two; each entry's host is its own expected name.
  const cases = [
    { certSan: 'DNS:localhost', refused: '127.0.0.1', accepted: 'localhost' },
    { certSan: 'IP:127.0.0.1', refused: 'localhost', accepted: '127.0.0.1' },
  ];
  it.each(cases)('checks each server against its own host: a certificate for $certSan only refuses $refused, then connects to $accepted', async ({ certSan, refused, accepted }) => {
    const pipes = suite.fixture();
    const identity = suite.pki.issue('server', { name: 'only-one-name', san: [certSan] });
    const server = await pipes.server({ tls: suite.pki.tls(identity) });
    const client = failoverClient(pipes, 'node-a', [local(server.port, refused), local(server.port, accepted)], { serverName: undefined });
    const errors: Array<Error & { code?: string; cause?: { code?: string } }> = [];
    client.on('error', (error: Error) => errors.push(error));
    expect(await client.connected(10_000)).toBe(true);
    expect(client.server).toEqual(local(server.port, accepted));
    expect(logged(client, 'connect failed')).toEqual([formatAddress(local(server.port, refused))]);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.code).toBe('RP_ERR_TLS');
    expect(errors[0]!.cause?.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    expect((await server.request('node-a', { noun: 'time' })).returnCode).toBe(0);
  });

  it('--server-name, when given, is the name checked for every server', async () => {
    const pipes = suite.fixture();
    const identity = suite.pki.issue('server', { name: 'only-one-name', san: ['DNS:localhost'] });
    const server = await pipes.server({ tls: suite.pki.tls(identity) });
    const client = failoverClient(pipes, 'node-a', [local(server.port, '127.0.0.1'), local(server.port, 'localhost')], { serverName: 'localhost' });
    expect(await client.connected(10_000)).toBe(true);
    // The first entry passes: its certificate is checked for `localhost`, not for 127.0.0.1.
    expect(client.server).toEqual(local(server.port, '127.0.0.1'));
    expect(logged(client, 'connect failed')).toEqual([]);
  });
});

describe('rp-client --server with several servers (CLI)', () => {
  it('connects to the second of --server 127.0.0.1:DEAD,127.0.0.1:GOOD and serves requests from it', async () => {
    const certs = new CertDir(['node-a']);
    const goodPort = await freePort();
    const deadPort = await freePort();
    const server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${goodPort}`]);
    let client: Awaited<ReturnType<typeof startNode>> | undefined;
    try {
      const list = `127.0.0.1:${deadPort},127.0.0.1:${goodPort}`;
      // No --server-name: each entry's HOST (127.0.0.1, an IP SAN of the server certificate) is checked.
      client = await startNode('client', certs, 'node-a', ['--server', list]);
      await waitFor(async () => (await fetch(`${client!.gateway}/_rp/ready`)).ok, 'the pipe to be up');
      const ready = client.output().split('\n').find((line) => line.includes('"msg":"rp-client ready"'));
      expect(JSON.parse(ready!)).toMatchObject({ pipe: list });
      const response = await fetch(`${server.gateway}/client/node-a/time`);
      expect(response.status).toBe(200);
      expect(await response.json()).toHaveProperty('time_from_client');
      const lines = client.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogRecord);
      expect(lines.filter((r) => r.msg === 'connect failed').map((r) => r.server)).toContain(`127.0.0.1:${deadPort}`);
      expect(lines.filter((r) => r.msg === 'connected to server').map((r) => r.server)).toEqual([`127.0.0.1:${goodPort}`]);
    } finally {
      await Promise.all([client?.stop(), server.stop()]);
    }
  });

  it.each([
    { list: 'a:1,b', bad: '"b"' },
    { list: 'a:1,,b:2', bad: '""' },
    { list: 'a:1,b:99999', bad: '"b:99999"' },
  ])('--server $list exits 2 naming the bad part', ({ list, bad }) => {
    const result = runCli(BIN.client, ['--server', list]);
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe(`rp-client: --server must be HOST:PORT, got ${bad}`);
  });

  it('RP_SERVER takes the list too, and a duplicate entry exits 2', () => {
    const result = runCli(BIN.client, [], { env: { RP_SERVER: 'hub.example:1,hub.example:1' } });
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe('rp-client: --server names hub.example:1 twice');
  });

  it('--help shows the list form', () => {
    const result = runCli(BIN.client, ['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('--server HOST:PORT[,HOST:PORT...]');
  });
});
