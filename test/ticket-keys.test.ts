import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCrl } from '@restpipe/certs';
import { PipeClient, PipeServer, type TlsMaterial } from '@restpipe/core';
import { BIN, runCli } from './helpers/cli.js';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { TestPki } from './helpers/pki.js';
import { waitFor } from './helpers/wait.js';

const running: NodeProcess[] = [];
const clients: PipeClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const node of running.splice(0)) if (node.exitCode === null && node.signalCode === null) node.kill('SIGKILL');
});

function keysFile(certs: CertDir, bytes = 48, mode = 0o600): string {
  const file = join(certs.dir, 'certs', 'ticket.keys');
  writeFileSync(file, randomBytes(bytes));
  chmodSync(file, mode);
  return file;
}

function writeCrl(certs: CertDir, revoked: string[]): string {
  const file = join(certs.dir, 'certs', 'ca.crl.pem');
  const entries = revoked.map((name) => ({ serialHex: new X509Certificate(readFileSync(certs.path(name, 'crt'))).serialNumber, revokedAt: new Date() }));
  writeFileSync(file, createCrl(certs.ca, entries));
  return file;
}

function tlsOf(certs: CertDir, name: string): TlsMaterial {
  return { cert: readFileSync(certs.path(name, 'crt')), key: readFileSync(certs.path(name, 'key')), ca: readFileSync(certs.path('ca', 'crt')) };
}

/** A library client that remembers its TLS session across reconnects, as PipeClient does. */
function pipeClient(certs: CertDir, name: string, port: number): PipeClient {
  const client = new PipeClient({ tls: tlsOf(certs, name), host: '127.0.0.1', port, serverName: 'localhost', reconnect: { minMs: 20, maxMs: 200 } });
  clients.push(client);
  return client.start();
}

const serverArgs = (certs: CertDir, port: number) => ['--cert', certs.path('server', 'crt'), '--key', certs.path('server', 'key'), '--ca', certs.path('ca', 'crt'),
  '--statsd', 'off', '--gateway', 'off', '--listen', `127.0.0.1:${port}`];

describe('--ticket-keys-file: resumption across restarts, never past the CRL', () => {
  it('a client revoked while the server was down cannot resume; a good client resumes', async () => {
    const certs = new CertDir(['node-a', 'node-b']);
    const keys = keysFile(certs);
    const crl = writeCrl(certs, []);
    const port = await freePort();
    const args = ['--listen', `127.0.0.1:${port}`, '--crl', crl, '--ticket-keys-file', keys];
    const first = await startNode('server', certs, 'server', args);
    running.push(first);
    const good = pipeClient(certs, 'node-a', port);
    const doomed = pipeClient(certs, 'node-b', port);
    expect(await good.connected(10_000)).toBe(true);
    expect(await doomed.connected(10_000)).toBe(true);
    expect(good.connection!.resumed).toBe(false);
    // TLS 1.3 sends its tickets after the handshake: one request round trip has them here.
    await good.request({ verb: 'get', noun: 'time' });
    await doomed.request({ verb: 'get', noun: 'time' });
    await first.stop();

    writeCrl(certs, ['node-b']);
    const second = await startNode('server', certs, 'server', args);
    running.push(second);
    await waitFor(() => good.connection?.isOpen, 'node-a to reconnect', 15_000);
    expect(good.connection!.resumed).toBe(true);
    // The ticket was accepted (resumed: OpenSSL did no CRL check), and restpipe refused the serial.
    await waitFor(() => second.output().includes('certificate revoked (checked on accept, resumed session)'), 'node-b to be refused on resumption', 15_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(doomed.isConnected).toBe(false);
    expect(second.output()).not.toMatch(/"msg":"client connected"[^\n]*"peer":"node-b"/);
  });

  it('without it, every server start has new ticket keys: no resumption across restarts', async () => {
    const certs = new CertDir(['node-a']);
    const port = await freePort();
    running.push(await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${port}`]));
    const client = pipeClient(certs, 'node-a', port);
    expect(await client.connected(10_000)).toBe(true);
    await client.request({ verb: 'get', noun: 'time' });
    await running[0]!.stop();
    running.push(await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${port}`]));
    await waitFor(() => client.connection?.isOpen, 'the client to reconnect', 15_000);
    expect(client.connection!.resumed).toBe(false);
  });

  it('exits 2 naming the file when it is not exactly 48 bytes', () => {
    const certs = new CertDir([]);
    const file = keysFile(certs, 47);
    const result = runCli(BIN.server, [...serverArgs(certs, 0), '--ticket-keys-file', file], { cwd: certs.dir });
    expect(result.status).toBe(2);
    const lines = result.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`--ticket-keys-file file ${file} must hold exactly 48 bytes, not 47`);
  });

  it('exits 2 when group or others can read it', () => {
    const certs = new CertDir([]);
    const file = keysFile(certs, 48, 0o640);
    const result = runCli(BIN.server, [...serverArgs(certs, 0), '--ticket-keys-file', file], { cwd: certs.dir });
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe(`rp-server: key file ${file} is readable by others; chmod 600 ${file}`);
  });

  it('is read from RP_TICKET_KEYS_FILE, and the flag beats it', () => {
    const certs = new CertDir([]);
    const bad = join(certs.dir, 'missing.keys');
    const fromEnv = runCli(BIN.server, serverArgs(certs, 0), { cwd: certs.dir, env: { RP_TICKET_KEYS_FILE: bad } });
    expect(fromEnv.status).toBe(2);
    expect(fromEnv.stderr).toContain(`--ticket-keys-file file ${bad} cannot be read`);
    const short = keysFile(certs, 10);
    const flagWins = runCli(BIN.server, [...serverArgs(certs, 0), '--ticket-keys-file', short], { cwd: certs.dir, env: { RP_TICKET_KEYS_FILE: bad } });
    expect(flagWins.stderr).toContain(`${short} must hold exactly 48 bytes`);
  });

  it('is listed by rp-server --help, and not by rp-client (a client issues no tickets)', () => {
    const help = runCli(BIN.server, ['--help']).stdout;
    expect(help).toContain('--ticket-keys-file FILE');
    expect(help).toContain('RP_TICKET_KEYS_FILE');
    expect(runCli(BIN.client, ['--help']).stdout).not.toContain('--ticket-keys-file');
  });
});

describe('PipeServer ticketKeys', () => {
  const pki = new TestPki();
  const servers: PipeServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  async function serve(options: ConstructorParameters<typeof PipeServer>[0]): Promise<number> {
    const server = new PipeServer({ host: '127.0.0.1', port: 0, ...options });
    servers.push(server);
    return (await server.listen()).port;
  }

  /** Connects once (to collect a ticket), restarts the server with `next`, reconnects: resumed? */
  async function resumesAcross(ticketKeys: Buffer, next: Partial<ConstructorParameters<typeof PipeServer>[0]>, first?: (s: PipeServer) => void): Promise<boolean> {
    const port = await serve({ tls: pki.tls(pki.server), ticketKeys });
    first?.(servers[0]!);
    const client = new PipeClient({ tls: pki.tls(pki.client('node-a')), host: '127.0.0.1', port, serverName: 'localhost', reconnect: { minMs: 20, maxMs: 100 } });
    clients.push(client);
    client.start();
    expect(await client.connected(10_000)).toBe(true);
    await client.request({ verb: 'get', noun: 'time' });
    await servers.pop()!.close();
    await waitFor(() => !client.isConnected, 'the client to notice');
    await serve({ tls: pki.tls(pki.server), ticketKeys, port, ...next });
    await waitFor(() => client.connection?.isOpen, 'the client to reconnect');
    return client.connection!.resumed;
  }

  it('resume across a restart with the same keys and CA', async () => {
    const keys = randomBytes(48);
    expect(await resumesAcross(keys, {})).toBe(true);
  });

  it('are kept by reload() (SIGHUP): sessions made after it still resume after a restart', async () => {
    const keys = randomBytes(48);
    expect(await resumesAcross(keys, {}, (server) => server.reload(pki.tls(pki.server)))).toBe(true);
  });

  it('do not resume a session under another --ca (session id context is the CA)', async () => {
    const other = new TestPki();
    const keys = randomBytes(48);
    expect(await resumesAcross(keys, { tls: { ...pki.tls(pki.server), ca: `${pki.ca.certPem}${other.ca.certPem}` } })).toBe(false);
  });
});

describe('PipeServer ticketKeys with a CRL', () => {
  it('refuses ticketKeys and tls.crl without revokedSerials, which a resumed session would skip', () => {
    const pki = new TestPki();
    const tls = pki.tls(pki.server, { crl: pki.crl([]) });
    expect(() => new PipeServer({ tls, ticketKeys: randomBytes(48) })).toThrow(/revokedSerials/);
    expect(() => new PipeServer({ tls, ticketKeys: randomBytes(32), revokedSerials: [] })).toThrow(/48 bytes/);
    const server = new PipeServer({ tls, ticketKeys: randomBytes(48), revokedSerials: [] });
    expect(() => server.reload(tls)).toThrow(/revokedSerials/);
    expect(server.reload(tls, ['0A'])).toBe(0);
  });
});
