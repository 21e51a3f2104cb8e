/**
 * A client that reconnects with the same name replaces its older connection
 * (SPEC §2). The older one's `disconnect` event and onDisconnect hook come first,
 * then the newer one's `connect` and onConnect: never a disconnect after the
 * connect that replaced it (which would make the name look gone while it is here).
 */
import { describe, expect, it } from 'vitest';
import { EventHandler, type Peer } from '@restpipe/core';
import { usePipeFixture } from './helpers/pipes.js';
import { nextEvent, waitFor } from './helpers/wait.js';

const suite = usePipeFixture();

class Recorder extends EventHandler {
  readonly calls: string[] = [];
  onConnect(peer: Peer): void {
    this.calls.push(`onConnect:${peer.name}`);
  }
  onDisconnect(peer: Peer, reason: string): void {
    this.calls.push(`onDisconnect:${peer.name}:${reason}`);
  }
}

describe('a duplicate identity replacing a connection', () => {
  it('tells the old disconnect before the new connect, once each, in hooks and events', async () => {
    const handler = new Recorder();
    const fixture = suite.fixture();
    const server = await fixture.server({ handler });
    const events: string[] = [];
    server.on('connect', (peer: Peer) => events.push(`connect:${peer.name}`));
    server.on('disconnect', (peer: Peer, reason: string) => events.push(`disconnect:${peer.name}:${reason}`));

    // The first waits its maximum backoff once told duplicate_identity: no flapping back.
    const first = await fixture.connectedClient(server.port, 'twin', { reconnect: { minMs: 20, maxMs: 60_000 } });
    const replaced = nextEvent<[Peer, string]>(first, 'disconnect');
    await fixture.connectedClient(server.port, 'twin');
    expect((await replaced)[1]).toContain('duplicate_identity');
    await waitFor(() => handler.calls.length >= 3, 'the hooks');
    await new Promise((r) => setTimeout(r, 200)); // the old socket is closed by now: nothing more may come

    expect(handler.calls).toEqual(['onConnect:twin', 'onDisconnect:twin:duplicate_identity', 'onConnect:twin']);
    expect(events).toEqual(['connect:twin', 'disconnect:twin:duplicate_identity', 'connect:twin']);
    expect(server.isConnected('twin')).toBe(true);
    expect(server.connectionCount).toBe(1);

    await server.close();
    await waitFor(() => handler.calls.length === 4, 'the last disconnect');
    expect(handler.calls[3]).toBe('onDisconnect:twin:shutdown');
  });
});
