/**
 * A Goaway's reason and message are a peer's text of any length: they must not
 * become megabyte log lines or close reasons (peer-text.ts). Needs
 * connection.ts#onGoaway to pass them through peerReason and peerText.
 */
import { describe, expect, it } from 'vitest';
import { memoryLogger } from './helpers/logs.js';
import { RawPeer } from './helpers/raw-peer.js';
import { usePipeFixture } from './helpers/pipes.js';
import { waitFor } from './helpers/wait.js';

const suite = usePipeFixture();

describe('a Goaway from a peer', () => {
  it('with a 1 MiB reason and message: logged, and passed to disconnect, bounded', async () => {
    const logger = memoryLogger();
    const server = await suite.fixture().server({ logger });
    const reasons: string[] = [];
    server.on('disconnect', (_peer, reason: string) => reasons.push(reason));
    const peer = await RawPeer.connect(server.port, suite.pki.client('talker'), suite.pki.ca.certPem);
    peer.hello();
    await waitFor(() => server.isConnected('talker'), 'the peer to be registered');
    peer.send({ kind: 'goaway', goaway: { reason: 'R'.repeat(1 << 20), message: 'M'.repeat(1 << 20) } });
    await waitFor(() => reasons.length > 0, 'the disconnect');
    expect(reasons[0]!.length).toBeLessThan(100);
    for (const record of logger.records) expect(JSON.stringify(record).length, record.msg).toBeLessThan(4096);
    peer.destroy();
  });

  it('with a reason of ours keeps it', async () => {
    const server = await suite.fixture().server();
    const reasons: string[] = [];
    server.on('disconnect', (_peer, reason: string) => reasons.push(reason));
    const peer = await RawPeer.connect(server.port, suite.pki.client('polite'), suite.pki.ca.certPem);
    peer.hello();
    await waitFor(() => server.isConnected('polite'), 'the peer to be registered');
    peer.send({ kind: 'goaway', goaway: { reason: 'protocol_error', message: 'bye' } });
    await waitFor(() => reasons.length > 0, 'the disconnect');
    expect(reasons[0]).toBe('goaway:protocol_error');
    peer.destroy();
  });
});
