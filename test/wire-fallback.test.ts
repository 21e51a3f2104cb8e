/**
 * A newer peer adds a field: its frames leave the hot codec for protobufjs. A
 * body-less Event or Reply must still work (it broke on `Buffer.from(undefined)`).
 */
import { describe, expect, it } from 'vitest';
import { decodeFrame, type Frame } from '@restpipe/core';
import { RawPeer } from './helpers/raw-peer.js';
import { usePipeFixture } from './helpers/pipes.js';
import { waitFor } from './helpers/wait.js';

const suite = usePipeFixture();

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const prefixed = (body: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, body.length]), body]);

/** Event { id, verb "get", noun ["time"], field 15: varint 1 }, no data. */
const futureEvent = (id: number): Buffer => prefixed(hex(`1a 0d 08 ${id.toString(16).padStart(2, '0')} 12 03 676574 1a 04 74696d65 78 01`));
/** Reply { id, status 200, field 15: bytes "x" }, no data. */
const futureReply = (id: number): Buffer => prefixed(hex(`22 08 08 ${id.toString(16).padStart(2, '0')} 30 c8 01 7a 01 78`));

function replyTo(peer: RawPeer, id: number): Extract<Frame, { kind: 'reply' }>['reply'] | undefined {
  const frame = peer.frames.find((f) => f.kind === 'reply' && f.reply.id === id);
  return frame?.kind === 'reply' ? frame.reply : undefined;
}

describe('a peer that adds an unknown field', () => {
  it('frames that go the protobufjs way are still read', () => {
    expect(decodeFrame(futureEvent(1).subarray(4)).kind).toBe('event');
    expect(decodeFrame(futureReply(1).subarray(4)).kind).toBe('reply');
  });

  it('sends a body-less Event, and gets the handler answer', async () => {
    const server = await suite.fixture().server();
    const peer = await RawPeer.connect(server.port, suite.pki.client('future'), suite.pki.ca.certPem);
    peer.hello();
    await waitFor(() => peer.frames.some((f) => f.kind === 'helloAck'), 'HelloAck');
    peer.sendBytes(futureEvent(1));
    const reply = await waitFor(() => replyTo(peer, 1), 'the reply to event 1');
    expect({ returnCode: reply.returnCode, kind: reply.kind }).toEqual({ returnCode: 0, kind: 0 });
    expect(JSON.parse(Buffer.from(reply.data).toString())).toHaveProperty('time_from_server');
    expect(peer.closed).toBe(false);
    peer.destroy();
  });

  it('answers with a body-less Reply, which the caller gets as an empty body', async () => {
    const server = await suite.fixture().server();
    const peer = await RawPeer.connect(server.port, suite.pki.client('future2'), suite.pki.ca.certPem);
    peer.hello();
    await waitFor(() => server.isConnected('future2'), 'the peer to be registered');
    const response = server.request('future2', { noun: 'time' });
    const event = await waitFor(() => peer.frames.find((f) => f.kind === 'event'), 'the event');
    peer.sendBytes(futureReply(event.kind === 'event' ? event.event.id : -1));
    const answer = await response;
    expect(answer.returnCode).toBe(0);
    expect(answer.raw).toHaveLength(0);
    expect(peer.closed).toBe(false);
    peer.destroy();
  });
});
