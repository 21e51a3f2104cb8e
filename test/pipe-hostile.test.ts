import { describe, expect, it } from 'vitest';
import { encodeFrameBytes, PeerUnavailableError } from '@restpipe/core';
import { memoryLogger } from './helpers/logs.js';
import { TestPki } from './helpers/pki.js';
import { usePipeFixture, type PipeFixture } from './helpers/pipes.js';
import { RawPeer } from './helpers/raw-peer.js';
import { settle, waitFor } from './helpers/wait.js';

const suite = usePipeFixture();
let pipes: PipeFixture;

describe('TLS refusals', () => {
  it('refuses a client certificate from a foreign CA, logs why, and never registers it', async () => {
    pipes = suite.fixture();
    const logger = memoryLogger();
    const server = await pipes.server({ logger });
    const foreign = new TestPki();
    const client = pipes.client(server.port, 'node-a', { tls: { ...foreign.tls(foreign.client('node-a')), ca: suite.pki.ca.certPem }, connectWaitMs: 0 });
    const failures: Error[] = [];
    client.on('error', (e: Error) => failures.push(e));
    await waitFor(() => failures.length >= 2, 'two refused attempts');
    const refusal = await waitFor(() => logger.records.find((r) => r.msg === 'pipe connection refused'), 'the refusal log line');
    expect(String(refusal['err'])).toMatch(/certificate|verify|unknown ca/i);
    expect(server.clients()).toEqual([]);
    expect(client.isConnected).toBe(false);
  });

  it('refuses a server whose certificate does not match the server name', async () => {
    pipes = suite.fixture();
    const server = await pipes.server();
    const client = pipes.client(server.port, 'node-a', { serverName: 'not-the-server.example' });
    const failure = await new Promise<Error>((resolve) => client.once('error', resolve));
    expect((failure as { code?: string }).code).toBe('RP_ERR_TLS');
    expect(failure.message).toMatch(/not-the-server\.example|altnames|Hostname/i);
    expect(server.clients()).toEqual([]);
  });

  it('refuses a client that presents no certificate', async () => {
    pipes = suite.fixture();
    const logger = memoryLogger();
    const server = await pipes.server({ logger });
    const peer = await settle(RawPeer.connect(server.port, undefined, suite.pki.ca.certPem));
    // Under TLS 1.3 the client may see secureConnect before the server's alert.
    if (peer.ok) await waitFor(() => peer.value.closed, 'the server to close the socket');
    await waitFor(() => logger.records.some((r) => r.msg === 'pipe connection refused'), 'the refusal log line');
    expect(server.clients()).toEqual([]);
  });
});

describe('hostile frames close that connection only', () => {
  async function withBystander() {
    pipes = suite.fixture();
    const server = await pipes.server({ maxEventBytes: 1024 });
    const bystander = await pipes.connectedClient(server.port, 'bystander');
    const stillWorks = async (): Promise<void> => {
      const answer = await bystander.request({ noun: 'cat', args: ['a', 'b'] });
      expect(answer.data).toEqual({ result_from_server: 'ab' });
    };
    return { server, stillWorks };
  }

  /** A raw peer that said Hello and was registered: ready to misbehave. */
  async function mallory(server: { port: number; isConnected(name: string): boolean }): Promise<RawPeer> {
    const peer = await RawPeer.connect(server.port, suite.pki.client('mallory'), suite.pki.ca.certPem);
    peer.hello();
    await waitFor(() => server.isConnected('mallory'), 'mallory to register');
    return peer;
  }

  it.each([
    ['garbage', [0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff], 'protocol_error'],
    ['a declared frame length that is too large (closed before reading the body)', [0xff, 0xff, 0xff, 0xff], 'frame_too_large'],
  ])('closes a connection that sends %s', async (_what, bytes, reason) => {
    const { server, stillWorks } = await withBystander();
    const peer = await mallory(server);
    peer.sendBytes(Buffer.from(bytes as number[]));
    await waitFor(() => peer.closed, 'the server to close mallory');
    expect(peer.goawayReason()).toBe(reason);
    await stillWorks();
  });

  it('closes a connection that sends a truncated frame and hangs up', async () => {
    const { server, stillWorks } = await withBystander();
    const peer = await mallory(server);
    const frame = encodeFrameBytes({ kind: 'ping', ping: { seq: 1 } });
    peer.socket.end(frame.subarray(0, frame.length - 1));
    await waitFor(() => !server.isConnected('mallory'), 'mallory to be gone');
    await stillWorks();
  });

  it('closes a connection whose first frame is not Hello', async () => {
    const { server, stillWorks } = await withBystander();
    const peer = await RawPeer.connect(server.port, suite.pki.client('mallory'), suite.pki.ca.certPem);
    peer.send({ kind: 'ping', ping: { seq: 1 } });
    await waitFor(() => peer.closed, 'the server to close mallory');
    expect(peer.goawayReason()).toBe('protocol_error');
    expect(server.isConnected('mallory')).toBe(false);
    await stillWorks();
  });

  it('closes a connection that never says Hello, after the hello timeout', async () => {
    pipes = suite.fixture();
    const server = await pipes.server({ helloTimeoutMs: 200 });
    const peer = await RawPeer.connect(server.port, suite.pki.client('mallory'), suite.pki.ca.certPem);
    const started = Date.now();
    await waitFor(() => peer.closed, 'the hello timeout');
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(server.clients()).toEqual([]);
  });

  it('declares a silent peer dead after three heartbeats and fails its requests at once', async () => {
    pipes = suite.fixture();
    const server = await pipes.server({ heartbeatMs: 100 });
    const peer = await RawPeer.connect(server.port, suite.pki.client('quiet'), suite.pki.ca.certPem);
    peer.hello(100); // then never answers a Ping
    await waitFor(() => server.isConnected('quiet'), 'quiet to register');
    const pending = settle(server.request('quiet', { noun: 'time', timeoutMs: 30_000 }));
    const started = Date.now();
    const result = await pending;
    expect((result as { error: { code: string } }).error.code).toBe('RP_ERR_PEER_DISCONNECTED');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(peer.goawayReason()).toBeUndefined();
    await waitFor(() => peer.closed, 'the socket to close');
    const again = await settle(server.request('quiet', { noun: 'time' }));
    expect((again as { error: Error }).error).toBeInstanceOf(PeerUnavailableError);
  });
});
