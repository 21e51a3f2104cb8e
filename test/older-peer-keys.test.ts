/**
 * A peer from before SPEC §8 ignores an Event's idempotency key (a field it does not know)
 * and would run the handler again on every redelivery. Its Hello says nothing of keys, so
 * a keyed request to it is refused here (501 NotEnabledError), and nothing is sent.
 */
import { describe, expect, it } from 'vitest';
import { RawPeer } from './helpers/raw-peer.js';
import { usePipeFixture } from './helpers/pipes.js';
import { settle, waitFor } from './helpers/wait.js';

const suite = usePipeFixture();

describe('an older peer, whose Hello does not say it keeps idempotency keys', () => {
  it('gets no keyed event: the request fails with NotEnabledError and no frame goes out; a plain one still does', async () => {
    const server = await suite.fixture().server();
    const peer = await RawPeer.connect(server.port, suite.pki.client('old-peer'), suite.pki.ca.certPem);
    peer.hello();
    await waitFor(() => server.isConnected('old-peer'), 'the older peer to be registered');
    const keyed = await settle(server.request('old-peer', { noun: 'time', idempotencyKey: 'order-1', timeoutMs: 500 }));
    expect(keyed.ok).toBe(false);
    if (!keyed.ok) expect(keyed.error.code).toBe('RP_ERR_NOT_ENABLED');
    const plain = settle(server.request('old-peer', { noun: 'time', timeoutMs: 500 }));
    await waitFor(() => peer.frames.some((f) => f.kind === 'event'), 'the plain event to reach the peer');
    const events = peer.frames.filter((f) => f.kind === 'event');
    expect(events).toHaveLength(1);
    expect(events[0]!.kind === 'event' && events[0]!.event.idempotencyKey).toBeUndefined();
    peer.destroy();
    await plain;
  });

  it('a restpipe of today says in its HelloAck that it keeps keys', async () => {
    const server = await suite.fixture().server();
    const peer = await RawPeer.connect(server.port, suite.pki.client('new-peer'), suite.pki.ca.certPem);
    peer.hello();
    const ack = await waitFor(() => peer.frames.find((f) => f.kind === 'helloAck'), 'the HelloAck');
    expect(ack.kind === 'helloAck' && ack.helloAck.idempotencyKeys).toBe(true);
    peer.destroy();
  });
});
