/**
 * A Hello and garbage in one chunk: the connection sends Goaway protocol_error
 * and is closing before the server gets to register its Hello. Such a connection
 * is never registered: no entry under its name, no `connect`, no onConnect, and a
 * healthy older connection of the same name is not kicked as duplicate_identity.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrameBytes, EventHandler, PROTOCOL_VERSION, type Peer } from '@restpipe/core';
import { memoryLogger } from './helpers/logs.js';
import { usePipeFixture } from './helpers/pipes.js';
import { RawPeer } from './helpers/raw-peer.js';
import { waitFor } from './helpers/wait.js';

class Hooks extends EventHandler {
  readonly seen: string[] = [];

  override onConnect(peer: Peer): void {
    this.seen.push(`onConnect ${peer.name}`);
  }

  override onDisconnect(peer: Peer, reason: string): void {
    this.seen.push(`onDisconnect ${peer.name} ${reason}`);
  }
}

const suite = usePipeFixture();

const HELLO = encodeFrameBytes({
  kind: 'hello',
  hello: { protocolVersion: PROTOCOL_VERSION, software: 'raw-peer', heartbeatMs: 60_000, maxEventBytes: 1 << 20, maxInFlight: 16, maxConcurrency: 4, maxInboundBytes: 0 },
});
/** A frame of five bytes that decode to nothing. */
const GARBAGE = Buffer.from([0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff]);

describe('a Hello followed by garbage in the same chunk', () => {
  it.each([
    ['garbage', GARBAGE],
    ['a frame that is not Hello', encodeFrameBytes({ kind: 'helloAck', helloAck: { protocolVersion: PROTOCOL_VERSION, software: 'x', heartbeatMs: 1, maxEventBytes: 1, maxInFlight: 1, maxConcurrency: 1, maxInboundBytes: 0, peerName: 'x' } })],
  ])('(%s) is never registered, and the healthy connection of that name stays', async (_what, tail) => {
    const pipes = suite.fixture();
    const hooks = new Hooks();
    const logger = memoryLogger();
    const server = await pipes.server({ handler: hooks, logger });
    const healthy = await pipes.connectedClient(server.port, 'node-a');
    const healthyConnection = healthy.connection;
    await waitFor(() => hooks.seen.length === 1, 'onConnect of the healthy connection');
    const events: string[] = [];
    server.on('connect', (peer: Peer) => events.push(`connect ${peer.name}`));
    server.on('disconnect', (peer: Peer, reason: string) => events.push(`disconnect ${peer.name} ${reason}`));
    const clientEvents: string[] = [];
    healthy.on('disconnect', (_peer: unknown, reason: string) => clientEvents.push(`disconnect ${reason}`));

    const peer = await RawPeer.connect(server.port, suite.pki.client('node-a'), suite.pki.ca.certPem);
    peer.sendBytes(Buffer.concat([HELLO, tail]));
    await waitFor(() => peer.closed, 'the server to close the raw peer');
    expect(peer.goawayReason()).toBe('protocol_error');
    expect(peer.frames.some((f) => f.kind === 'helloAck')).toBe(false);
    // Time for a wrong register, a duplicate_identity Goaway and a reconnect to show.
    await new Promise((r) => setTimeout(r, 300));

    expect(events).toEqual([]);
    expect(clientEvents).toEqual([]);
    expect(hooks.seen).toEqual(['onConnect node-a']);
    expect(healthy.isConnected).toBe(true);
    expect(healthy.connection).toBe(healthyConnection);
    expect(server.isConnected('node-a')).toBe(true);
    expect(server.clients().map((c) => c.name)).toEqual(['node-a']);
    expect(logger.records.filter((r) => r.msg === 'client connected')).toHaveLength(1);
    // The healthy client's built-in handler still answers.
    expect((await server.request('node-a', { noun: 'time' })).data).toHaveProperty('time_from_client');
  });
});
