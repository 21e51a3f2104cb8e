/**
 * NODE_TLS_REJECT_UNAUTHORIZED=0 must change nothing (SPEC §7): both sides always
 * verify. Real rp-client and rp-server child processes run with the variable set.
 */
import { execFile } from 'node:child_process';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createCa, createSelfSigned, issueCertificate, type Identity } from '@restpipe/certs';
import { encodeFrameBytes } from '@restpipe/wire';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { waitFor } from './helpers/wait.js';

const INSECURE_ENV = { NODE_TLS_REJECT_UNAUTHORIZED: '0' };
const running: NodeProcess[] = [];
const impostors: tls.Server[] = [];

afterEach(async () => {
  for (const node of running.splice(0)) if (node.exitCode === null && node.signalCode === null) node.kill('SIGKILL');
  await Promise.all(impostors.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

interface Impostor {
  port: number;
  /** Application bytes received: a Hello, if the client was fooled. */
  received: () => number;
}

/** A TLS server with a certificate our CA never signed; it answers any Hello with a HelloAck. */
async function impostor(identity: Identity): Promise<Impostor> {
  let received = 0;
  const helloAck = encodeFrameBytes({
    kind: 'helloAck',
    helloAck: { protocolVersion: 1, software: 'impostor', heartbeatMs: 5000, maxEventBytes: 4 << 20, maxInFlight: 8, maxConcurrency: 8, peerName: 'node-a' },
  });
  const server = tls.createServer({ cert: identity.certPem, key: identity.keyPem }, (socket) => {
    socket.on('data', (chunk: Buffer) => {
      if (received === 0) socket.write(helloAck);
      received += chunk.length;
    });
    socket.on('error', () => {});
  });
  server.on('tlsClientError', () => {});
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  impostors.push(server);
  return { port, received: () => received };
}

/** What Node does with the variable set when the caller leaves rejectUnauthorized to it. */
function defaultClientConnects(port: number, ca: string): Promise<boolean> {
  const script = `
    const tls = require('node:tls');
    const s = tls.connect({ host: '127.0.0.1', port: ${port}, servername: 'localhost', ca: process.env.CA });
    s.on('secureConnect', () => { process.stdout.write('connected ' + s.authorized); s.destroy(); });
    s.on('error', (e) => { process.stdout.write('refused ' + e.code); });`;
  // Not spawnSync: the impostor runs in this process and must answer.
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', script], { env: { ...process.env, ...INSECURE_ENV, CA: ca }, timeout: 10_000 }, (_error, stdout) => {
      resolve(stdout.startsWith('connected false'));
    });
  });
}

const foreignCa = createCa({ commonName: 'not our CA' });
const impostorIdentities: Array<[string, () => Identity]> = [
  ['a server certificate from another CA', () => issueCertificate(foreignCa, 'server', { name: 'server' })],
  ['a self-signed server certificate', () => createSelfSigned({ name: 'localhost', san: ['DNS:localhost', 'IP:127.0.0.1'] })],
];

describe('NODE_TLS_REJECT_UNAUTHORIZED=0 changes nothing', () => {
  it.each(impostorIdentities)('rp-client refuses an impostor server with %s', async (_what, identity) => {
    const certs = new CertDir(['node-a']);
    const fake = await impostor(identity());
    // The control: Node's own default would connect to this impostor under the variable.
    expect(await defaultClientConnects(fake.port, certs.ca.certPem)).toBe(true);

    const client = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${fake.port}`, '--server-name', 'localhost'], INSECURE_ENV);
    running.push(client);
    const failures = (): number => client.output().split('\n').filter((l) => l.includes('"msg":"connect failed"')).length;
    const fooled = (): boolean => fake.received() > 0 || client.output().includes('connected to server');
    await waitFor(() => failures() >= 3 || fooled(), 'three refused connection attempts', 15_000);

    expect(fake.received()).toBe(0); // no Hello ever sent
    expect(client.output()).not.toContain('connected to server');
    expect(client.output()).toMatch(/certificate/i);
    expect((await fetch(`${client.gateway}/_rp/ready`)).status).toBe(503);
    expect(((await (await fetch(`${client.gateway}/_rp/health`)).json()) as { connected: boolean }).connected).toBe(false);
  });

  it('rp-server refuses a client certificate from another CA', async () => {
    const certs = new CertDir([]);
    const pipePort = await freePort();
    const server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`], INSECURE_ENV);
    running.push(server);
    const stranger = issueCertificate(foreignCa, 'client', { name: 'node-a' });
    const outcome = await new Promise<string>((resolve) => {
      const socket = tls.connect({ host: '127.0.0.1', port: pipePort, servername: 'localhost', ca: certs.ca.certPem, cert: stranger.certPem, key: stranger.keyPem });
      socket.on('secureConnect', () => socket.write(encodeFrameBytes({
        kind: 'hello', hello: { protocolVersion: 1, software: 'stranger', heartbeatMs: 5000, maxEventBytes: 1 << 20, maxInFlight: 8, maxConcurrency: 8 },
      })));
      socket.on('data', () => resolve('answered'));
      socket.on('error', () => resolve('refused'));
      socket.on('close', () => resolve('refused'));
    });
    expect(outcome).toBe('refused');
    await waitFor(() => server.output().includes('pipe connection refused'), 'the refusal to be logged');
    expect(server.output()).not.toContain('client connected');
  });
});
