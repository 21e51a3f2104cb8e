import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { createCa, createCrl, issueCertificate } from '@restpipe/certs';
import { X509Certificate } from 'node:crypto';
import type { PipeClient, TlsMaterial } from '@restpipe/core';
import { memoryLogger } from './helpers/logs.js';
import { usePipeFixture, type PipeFixture } from './helpers/pipes.js';
import { waitFor } from './helpers/wait.js';

const suite = usePipeFixture();
let pipes: PipeFixture;
const DAY = 86_400_000;

/** Counts a refused client's attempts; they must follow the backoff, not a tight loop. */
function attempts(client: PipeClient): { count: number; errors: Error[] } {
  const seen = { count: 0, errors: [] as Error[] };
  client.on('error', (error: Error) => {
    seen.count += 1;
    seen.errors.push(error);
  });
  return seen;
}

async function expectRefused(clientTls: TlsMaterial, options: { serverTls?: TlsMaterial; serverName?: string; serverSide?: boolean } = {}) {
  pipes = suite.fixture();
  const logger = memoryLogger();
  const server = await pipes.server({ logger, ...(options.serverTls ? { tls: options.serverTls } : {}) });
  const registered: string[] = [];
  server.on('connect', (peer: { name: string }) => registered.push(peer.name));
  // The SPEC backoff (250 ms x2, jittered), not the fast one other tests use.
  const client = pipes.client(server.port, 'x', { tls: clientTls, reconnect: { minMs: 250, maxMs: 30_000 }, serverName: options.serverName ?? 'localhost' });
  const seen = attempts(client);
  await waitFor(() => seen.count >= 2, 'two refused attempts', 10_000);
  const windowStart = seen.count;
  await new Promise((r) => setTimeout(r, 1_000));
  // 250-500 ms, then 500-1000 ms...: a second holds three more attempts at the very most.
  expect(seen.count - windowStart).toBeLessThanOrEqual(3);
  expect(registered).toEqual([]);
  expect(server.clients()).toEqual([]);
  expect(client.isConnected).toBe(false);
  if (options.serverSide !== false) {
    const refusal = logger.records.find((r) => r.msg === 'pipe connection refused');
    expect(refusal, 'the server logs the refusal').toBeDefined();
    expect(String(refusal!['err'])).toMatch(/refused/);
    return { reason: String(refusal!['err']), clientError: seen.errors[0]! };
  }
  return { reason: '', clientError: seen.errors[0]! };
}

describe('TLS refusal matrix: refused before any frame, logged with a reason, never registered, retried on backoff', () => {
  it('a self-signed client certificate', async () => {
    const self = suite.pki.selfSigned('mallory');
    const { reason } = await expectRefused({ cert: self.certPem, key: self.keyPem, ca: suite.pki.ca.certPem });
    expect(reason).toMatch(/SELF_SIGNED|self.signed|unable to verify/i);
  });

  it('an expired client certificate', async () => {
    const old = suite.pki.issue('client', { name: 'old', notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });
    const { reason } = await expectRefused(suite.pki.tls(old));
    expect(reason).toMatch(/CERT_HAS_EXPIRED|expired/i);
  });

  it('a client certificate not yet valid', async () => {
    const early = suite.pki.issue('client', { name: 'early', notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now() + 10 * DAY) });
    const { reason } = await expectRefused(suite.pki.tls(early));
    expect(reason).toMatch(/CERT_NOT_YET_VALID|not yet valid/i);
  });

  it('a server certificate used as a client certificate (wrong EKU)', async () => {
    const serverish = suite.pki.issue('server', { name: 'imposter' });
    const { reason } = await expectRefused(suite.pki.tls(serverish));
    expect(reason).toMatch(/INVALID_PURPOSE|purpose/i);
  });

  it('a client certificate used as the server certificate (wrong EKU)', async () => {
    const clientish = suite.pki.issue('client', { name: 'fake-server', san: ['DNS:localhost'] });
    const { clientError } = await expectRefused(suite.pki.tls(suite.pki.client('node-a')), { serverTls: suite.pki.tls(clientish), serverSide: false });
    expect(clientError.message).toMatch(/purpose|INVALID_PURPOSE/i);
  });

  it('a revoked client certificate (CRL)', async () => {
    const doomed = suite.pki.issue('client', { name: 'doomed' });
    const serial = new X509Certificate(doomed.certPem).serialNumber;
    const crl = createCrl(suite.pki.ca, [{ serialHex: serial, revokedAt: new Date() }]);
    const { reason } = await expectRefused(suite.pki.tls(doomed), { serverTls: suite.pki.tls(suite.pki.server, { crl }) });
    expect(reason).toMatch(/CERT_REVOKED|revoked/i);
  });

  it('a server whose certificate does not match the server name', async () => {
    const { clientError } = await expectRefused(suite.pki.tls(suite.pki.client('node-a')), { serverName: 'elsewhere.example', serverSide: false });
    expect(clientError.message).toMatch(/elsewhere\.example/);
  });

  it('a client certificate from another CA', async () => {
    const other = createCa();
    const foreign = issueCertificate(other, 'client', { name: 'node-a' });
    const { reason } = await expectRefused({ cert: foreign.certPem, key: foreign.keyPem, ca: suite.pki.ca.certPem });
    expect(reason).toMatch(/UNABLE_TO_VERIFY|unable to (get|verify)|unknown ca/i);
  });
});

describe('TLS versions and ciphers', () => {
  it('refuses a client limited to TLS 1.2 against the TLS 1.3 default', async () => {
    pipes = suite.fixture();
    const logger = memoryLogger();
    const server = await pipes.server({ logger });
    const client = suite.pki.client('old-tls');
    const result = await new Promise<string>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port: server.port, servername: 'localhost', ca: suite.pki.ca.certPem, cert: client.certPem, key: client.keyPem, maxVersion: 'TLSv1.2' });
      socket.on('secureConnect', () => resolve('connected'));
      socket.on('error', (e) => resolve(e.message));
    });
    expect(result).toMatch(/protocol version|unsupported protocol|alert/i);
    await waitFor(() => logger.records.some((r) => r.msg === 'pipe connection refused' && /version|protocol/i.test(String(r['err']))), 'the refusal log line');
    expect(server.clients()).toEqual([]);
  });

  it('with --tls-min-version TLSv1.2, accepts TLS 1.2 with an AEAD cipher and refuses a non-AEAD cipher offered alone', async () => {
    pipes = suite.fixture();
    const logger = memoryLogger();
    const server = await pipes.server({ logger, tls: suite.pki.tls(suite.pki.server, { minVersion: 'TLSv1.2' }) });
    const client = suite.pki.client('tls12');
    const connect = (ciphers: string) => new Promise<string>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port: server.port, servername: 'localhost', ca: suite.pki.ca.certPem, cert: client.certPem, key: client.keyPem, maxVersion: 'TLSv1.2', ciphers });
      socket.on('secureConnect', () => {
        resolve(`${socket.getProtocol()} ${socket.getCipher().name}`);
        socket.destroy();
      });
      socket.on('error', (e) => resolve(`error: ${e.message}`));
    });
    expect(await connect('ECDHE-RSA-AES128-GCM-SHA256')).toBe('TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256');
    const weak = await connect('AES128-SHA');
    expect(weak).toMatch(/^error: .*(handshake failure|no shared cipher|alert)/i);
    await waitFor(() => logger.records.some((r) => r.msg === 'pipe connection refused' && /cipher|handshake/i.test(String(r['err']))), 'the refusal log line');
  });

  it('a library client with TLS 1.2 minimum still connects over TLS 1.3 by default', async () => {
    pipes = suite.fixture();
    const server = await pipes.server({ tls: suite.pki.tls(suite.pki.server, { minVersion: 'TLSv1.2' }) });
    const client = await pipes.connectedClient(server.port, 'node-a');
    expect((await client.request({ noun: 'time' })).returnCode).toBe(0);
  });
});
