import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCrl, issueCertificate } from '@restpipe/certs';
import { X509Certificate } from 'node:crypto';
import { BIN, runCli } from './helpers/cli.js';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { waitFor } from './helpers/wait.js';

const running: NodeProcess[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((n) => {
    if (n.exitCode === null && n.signalCode === null) n.kill('SIGKILL');
    return undefined;
  }));
});

async function pair(certs: CertDir, serverArgs: string[] = [], clientArgs: string[] = []) {
  const pipePort = await freePort();
  const server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, '--connect-wait-ms', '300', ...serverArgs]);
  running.push(server);
  const client = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', '--connect-wait-ms', '300', ...clientArgs]);
  running.push(client);
  await waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`)).ok, 'the pipe to be up');
  return { server, client, pipePort };
}

function exitOf(node: NodeProcess): Promise<number | null> {
  if (node.exitCode !== null) return Promise.resolve(node.exitCode);
  return new Promise((resolve) => node.once('exit', (code) => resolve(code)));
}

describe('rp-server and rp-client: flags and files', () => {
  it.each([
    [['--bogus'], /--bogus/],
    [['--heartbeat-ms', 'soon'], /--heartbeat-ms must be a whole number/],
    [['--heartbeat-ms', '300001'], /--heartbeat-ms must be a whole number from 1 to 300000, got "300001"/],
    [['--listen', 'nowhere'], /--listen must be HOST:PORT/],
    [['--tls-min-version', 'TLSv1.0'], /--tls-min-version must be one of/],
    [['--gateway-socket-mode', '999'], /--gateway-socket-mode/],
    [['--cert', '/no/such/file.pem'], /--cert file \/no\/such\/file\.pem cannot be read/],
  ])('exits 2 with one clear line for %j', (args, pattern) => {
    const result = runCli(BIN.server, args as string[], { env: { RP_STATSD: 'off' } });
    expect(result.status).toBe(2);
    const lines = result.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
  });

  it('exits 2 for a bad value given through the environment', () => {
    const result = runCli(BIN.client, [], { env: { RP_TIMEOUT_MS: '-5' } });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--timeout-ms/);
  });

  it('refuses a private key readable by group or others, naming the file', () => {
    const certs = new CertDir([]);
    const key = certs.path('server', 'key');
    chmodSync(key, 0o644);
    const result = runCli(BIN.server, ['--cert', certs.path('server', 'crt'), '--key', key, '--ca', certs.path('ca', 'crt')], { env: {} });
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe(`rp-server: key file ${key} is readable by others; chmod 600 ${key}`);
  });

  it.each(['server', 'client'] as const)('rp-%s --help lists every flag with its default and env variable', (role) => {
    const result = runCli(role === 'server' ? BIN.server : BIN.client, ['--help']);
    expect(result.status).toBe(0);
    const common = ['gateway', 'cert', 'key', 'ca', 'handler', 'statsd', 'statsd-prefix', 'heartbeat-ms', 'timeout-ms', 'connect-wait-ms',
      'max-event-bytes', 'max-in-flight', 'max-concurrency', 'api-key-file', 'tls-min-version', 'log-level', 'expose-tracebacks', 'gateway-socket-mode', 'config'];
    const own = role === 'server' ? ['listen', 'crl'] : ['server', 'server-name'];
    for (const flag of [...common, ...own]) {
      expect(result.stdout).toContain(`--${flag}`);
      expect(result.stdout).toContain(`RP_${flag.toUpperCase().replace(/-/g, '_')}`);
    }
    expect(result.stdout).toContain(role === 'server' ? '(default: 0.0.0.0:1234' : '(default: localhost:1234');
    expect(result.stdout).toContain('(default: 5000');
  });
});

describe('rp-server and rp-client: running', () => {
  it('after kill -9 of the server, requests get 503; after a restart the client recovers alone', async () => {
    const certs = new CertDir(['node-a']);
    const { server, client, pipePort } = await pair(certs);
    expect((await fetch(`${client.gateway}/server/time`)).status).toBe(200);
    server.kill('SIGKILL');
    await exitOf(server);
    // A request racing the kill may still go out and get 502; once the client knows, it is 503.
    await waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`)).status === 503, 'the client to notice');
    const down = await fetch(`${client.gateway}/server/time`);
    expect(down.status).toBe(503);
    expect(((await down.json()) as { exception: { class: string } }).exception.class).toBe('PeerUnavailableError');
    const again = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`]);
    running.push(again);
    await waitFor(async () => (await fetch(`${client.gateway}/server/time`)).status === 200, 'the client to recover', 15_000);
  });

  it('a lost connection while waiting is 502 PeerDisconnectedError, then 503 PeerUnavailableError', async () => {
    const certs = new CertDir(['node-a']);
    const { server, client } = await pair(certs);
    const waiting = fetch(`${server.gateway}/client/node-a/slow?ms=30000`);
    await waitFor(async () => {
      const list = (await (await fetch(`${server.gateway}/_rp/clients`)).json()) as Array<{ inFlight: number }>;
      return list[0]?.inFlight === 1;
    }, 'the slow event to be in flight');
    client.kill('SIGKILL');
    const lost = await waiting;
    expect(lost.status).toBe(502);
    expect(((await lost.json()) as { exception: { class: string } }).exception.class).toBe('PeerDisconnectedError');
    const gone = await fetch(`${server.gateway}/client/node-a/time`);
    expect(gone.status).toBe(503);
    expect(((await gone.json()) as { exception: { class: string } }).exception.class).toBe('PeerUnavailableError');
  });

  it('SIGTERM lets an in-flight event finish, then exits 0; the hooks run', async () => {
    const certs = new CertDir(['node-a']);
    const { server, client } = await pair(certs);
    const inFlight = fetch(`${client.gateway}/server/slow?ms=700`);
    await waitFor(async () => {
      const list = (await (await fetch(`${server.gateway}/_rp/clients`)).json()) as Array<{ eventsIn: number }>;
      return (list[0]?.eventsIn ?? 0) >= 1;
    }, 'the event to reach the server');
    server.kill('SIGTERM');
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ slept: 700 });
    expect(await exitOf(server)).toBe(0);
    client.kill('SIGTERM');
    expect(await exitOf(client)).toBe(0);
    const hooks = readFileSync(certs.hookLog, 'utf8').split('\n');
    expect(hooks).toEqual(expect.arrayContaining(['server:init', 'client:init', 'server:connect:node-a', 'client:connect:server', 'server:close', 'client:close']));
    expect(hooks.some((h) => h.startsWith('client:disconnect:server:'))).toBe(true);
  });

  it('serves the gateway on a unix socket with the given mode, replacing a stale socket file', async () => {
    const certs = new CertDir(['node-a']);
    const socket = join(certs.dir, 'rpserver.sock');
    const stale = net.createServer().listen(socket);
    await new Promise((r) => stale.once('listening', r));
    // Leaves the file behind, as a crashed process would.
    (stale as unknown as { _handle: { close(): void } })._handle.close();
    const pipePort = await freePort();
    const server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, '--gateway', `unix:${socket}`, '--gateway-socket-mode', '0660']);
    running.push(server);
    expect(statSync(socket).mode & 0o777).toBe(0o660);
    const health = await new Promise<string>((resolve, reject) => {
      http.get({ socketPath: socket, path: '/_rp/health' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    expect(JSON.parse(health)).toMatchObject({ status: 'ok', role: 'server' });
  });

  it('--gateway off runs the pipe with no HTTP listener', async () => {
    const certs = new CertDir(['node-a']);
    const pipePort = await freePort();
    const server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`]);
    running.push(server);
    const client = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', '--gateway', 'off']);
    running.push(client);
    expect(client.output()).toContain('"gateway":"off"');
    await waitFor(async () => (await fetch(`${server.gateway}/client/node-a/time`)).status === 200, 'the server to reach the gateway-less client');
  });

  it('SIGHUP reloads: a rotated server certificate for new connections, and revoked clients are cut off', async () => {
    const certs = new CertDir(['node-a', 'node-b']);
    const crlFile = join(certs.dir, 'certs', 'ca.crl.pem');
    writeFileSync(crlFile, createCrl(certs.ca, []));
    const { server, client, pipePort } = await pair(certs, ['--crl', crlFile]);
    const doomed = await startNode('client', certs, 'node-b', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost']);
    running.push(doomed);
    await waitFor(async () => (await fetch(`${doomed.gateway}/_rp/ready`)).ok, 'node-b to connect');
    const before = new X509Certificate(readFileSync(certs.path('server', 'crt'))).fingerprint256;
    certs.write('server', issueCertificate(certs.ca, 'server', { name: 'server' }));
    const serial = new X509Certificate(readFileSync(certs.path('node-b', 'crt'))).serialNumber;
    writeFileSync(crlFile, createCrl(certs.ca, [{ serialHex: serial, revokedAt: new Date() }]));
    server.kill('SIGHUP');
    await waitFor(() => server.output().includes('certificates reloaded'), 'the reload log line');
    // The healthy connection stayed up.
    expect((await fetch(`${client.gateway}/server/time`)).status).toBe(200);
    const dropped = server.output().split('\n').filter((l) => l.includes('"msg":"client disconnected"'));
    expect(dropped.filter((l) => l.includes('"peer":"node-a"'))).toEqual([]);
    // New handshakes see the new certificate.
    const seen = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: pipePort, rejectUnauthorized: false }, () => {
        resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
        socket.destroy();
      });
      socket.on('error', reject);
    });
    expect(seen).not.toBe(before);
    // The connected client whose certificate is now revoked was cut off, and stays out.
    await waitFor(async () => (await fetch(`${doomed.gateway}/_rp/ready`)).status === 503, 'node-b to be disconnected');
    expect(server.output()).toMatch(/"reason":"revoked"/);
    await waitFor(() => server.output().includes('pipe connection refused'), 'node-b reconnect refused');
    expect((await fetch(`${doomed.gateway}/_rp/ready`)).status).toBe(503);
    expect((await fetch(`${server.gateway}/client/node-a/time`)).status).toBe(200);
  });
});
