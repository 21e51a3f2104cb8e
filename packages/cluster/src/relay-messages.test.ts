import { headers, type Msg, type MsgHdrs } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { EarlyReply } from './early-reply.js';
import { dataHeaders, endHeaders, grantHeaders, isStreamId, newStreamId, parseRelayMessage, stopHeaders, streamAddress } from './relay-messages.js';
import { streamSubject, streamsOf } from './subjects.js';

/** A message as nats.js hands it to a subscription: only what the parser reads. */
function msg(data: Uint8Array, h?: MsgHdrs): Msg {
  return { data, headers: h } as unknown as Msg;
}

function header(key: string, value: string): MsgHdrs {
  const h = headers();
  h.set(key, value);
  return h;
}

describe('the messages of a relayed stream', () => {
  it('names each stream by node and a 64-bit random id, under the node\'s one subscription', () => {
    const id = newStreamId();
    expect(isStreamId(id)).toBe(true);
    expect(newStreamId()).not.toBe(id);
    expect(streamSubject('host.1', id, 'd')).toBe(`rp.v1.stream.host~1.${id}.d`);
    expect(streamsOf('host.1')).toBe('rp.v1.stream.host~1.>');
    expect(streamAddress(streamSubject('host.1', id, 'w'))).toEqual({ id, kind: 'w' });
    for (const bad of [`rp.v1.stream.n0.${id}.x`, 'rp.v1.stream.n0.NOTHEX0000000000.d', `rp.v1.stream.n0.${id}.d.more`, `rp.v1.stream.n0.${id}`]) {
      expect(streamAddress(bad)).toBeUndefined();
    }
  });

  it('reads back what each side says', () => {
    const data = Buffer.from('some bytes');
    expect(parseRelayMessage('d', msg(data, dataHeaders(3)))).toEqual({ kind: 'data', seq: 3, data });
    expect(parseRelayMessage('d', msg(new Uint8Array(), endHeaders(3, false)))).toEqual({ kind: 'end', seq: 3, aborted: false, message: '' });
    expect(parseRelayMessage('d', msg(Buffer.from('the disk went away'), endHeaders(0, true)))).toEqual({ kind: 'end', seq: 0, aborted: true, message: 'the disk went away' });
    expect(parseRelayMessage('w', msg(new Uint8Array(), grantHeaders(65536)))).toEqual({ kind: 'grant', bytes: 65536 });
    expect(parseRelayMessage('w', msg(new Uint8Array(), stopHeaders()))).toEqual({ kind: 'stop' });
  });

  it('refuses what does not parse, whatever it claims', () => {
    const bad: Array<['d' | 'w', Msg]> = [
      ['d', msg(Buffer.from('x'))],
      ['d', msg(Buffer.from('x'), header('Rp-Seq', '0'))],
      ['d', msg(Buffer.from('x'), header('Rp-Seq', '-1'))],
      ['d', msg(Buffer.from('x'), header('Rp-Seq', '1.5'))],
      ['d', msg(Buffer.from('x'), header('Rp-Seq', '9'.repeat(20)))],
      ['d', msg(Buffer.from('x'), header('Rp-Seq', '01'))],
      ['w', msg(new Uint8Array())],
      ['w', msg(new Uint8Array(), header('Rp-Grant', '0'))],
      ['w', msg(new Uint8Array(), header('Rp-Grant', String(2 ** 32)))],
      ['w', msg(new Uint8Array(), header('Rp-Grant', 'lots'))],
    ];
    const endMaybe = header('Rp-Seq', '1');
    endMaybe.set('Rp-End', 'maybe');
    bad.push(['d', msg(new Uint8Array(), endMaybe)]);
    for (const [kind, m] of bad) expect(() => parseRelayMessage(kind, m)).toThrow(expect.objectContaining({ code: 'RP_ERR_PROTOCOL' }));
  });

  it('cuts a long abort reason', () => {
    const parsed = parseRelayMessage('d', msg(Buffer.from('x'.repeat(5000)), endHeaders(0, true)));
    expect(parsed.kind === 'end' && parsed.message.length).toBe(1000);
  });
});

describe('a reply stream\'s data before its Reply', () => {
  it('keeps it in order, and its end', () => {
    const early = new EarlyReply('n1', 4);
    early.take({ kind: 'data', seq: 1, data: Buffer.from('ab') });
    early.take({ kind: 'data', seq: 2, data: Buffer.from('cd') });
    early.take({ kind: 'end', seq: 2, aborted: false, message: '' });
    expect(Buffer.concat(early.chunks).toString()).toBe('abcd');
    expect(early).toMatchObject({ seq: 2, end: { aborted: false }, broken: undefined });
  });

  it('is broken by a gap, or by more than the window', () => {
    const gap = new EarlyReply('n1', 100);
    gap.take({ kind: 'data', seq: 2, data: Buffer.from('ab') });
    expect(gap.broken).toMatch(/lost on the way/);
    const over = new EarlyReply('n1', 3);
    over.take({ kind: 'data', seq: 1, data: Buffer.from('ab') });
    over.take({ kind: 'data', seq: 2, data: Buffer.from('cd') });
    expect(over.broken).toMatch(/past its window/);
    expect(over.chunks).toHaveLength(1);
  });
});
