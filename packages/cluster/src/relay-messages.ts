import { randomBytes } from 'node:crypto';
import { headers, type Msg, type MsgHdrs } from '@nats-io/transport-node';
import { ProtocolError } from '@restpipe/core';
import type { StreamSubjectKind } from './subjects.js';

/**
 * The messages of a stream relayed between two nodes (SPEC §12 across §11). On `.d`, to the
 * node that reads: data (the payload, as it is, and `Rp-Seq`, its number from 1), then one
 * end (`Rp-End: end|abort`, `Rp-Seq` the number of the last data, the payload a reason). On
 * `.w`, to the node that sends: credit (`Rp-Grant: BYTES`) or `Rp-Stop`. NATS core may drop
 * a message (a slow consumer): a gap in `Rp-Seq` aborts the stream, never cuts it silently.
 */
export const H_SEQ = 'Rp-Seq';
export const H_END = 'Rp-End';
export const H_GRANT = 'Rp-Grant';
export const H_STOP = 'Rp-Stop';

/** A reason in an end message, at most. */
export const MAX_END_MESSAGE_CHARS = 1000;
/** The most credit one grant may carry (a StreamWindow's uint32). */
const MAX_GRANT_BYTES = 0xffff_ffff;
const STREAM_ID = /^[0-9a-f]{16}$/;
const WHOLE = /^[1-9][0-9]{0,15}$/;

/** A stream's id: 64 random bits in hex, which no other node can guess from the ones it sees. */
export function newStreamId(): string {
  return randomBytes(8).toString('hex');
}

export function isStreamId(value: unknown): value is string {
  return typeof value === 'string' && STREAM_ID.test(value);
}

export type RelayMessage =
  | { readonly kind: 'data'; readonly seq: number; readonly data: Buffer }
  | { readonly kind: 'end'; readonly seq: number; readonly aborted: boolean; readonly message: string }
  | { readonly kind: 'grant'; readonly bytes: number }
  | { readonly kind: 'stop' };

/** The stream id and subject kind of `rp.v1.stream.NODE.ID.K`; undefined for any other subject. */
export function streamAddress(subject: string): { id: string; kind: StreamSubjectKind } | undefined {
  const tokens = subject.split('.');
  if (tokens.length !== 6) return undefined;
  const id = tokens[4];
  const kind = tokens[5];
  if (!isStreamId(id) || (kind !== 'd' && kind !== 'w')) return undefined;
  return { id, kind };
}

/** What a message on a stream subject says; ProtocolError for what does not parse. */
export function parseRelayMessage(kind: StreamSubjectKind, msg: Msg): RelayMessage {
  const h = msg.headers;
  if (kind === 'w') {
    if (h?.get(H_STOP)) return { kind: 'stop' };
    const bytes = wholeNumber(h?.get(H_GRANT), 'Rp-Grant');
    if (bytes > MAX_GRANT_BYTES) throw new ProtocolError('a stream grant is past 2^32-1 bytes');
    return { kind: 'grant', bytes };
  }
  const seq = wholeNumber(h?.get(H_SEQ), 'Rp-Seq', true);
  const end = h?.get(H_END) ?? '';
  if (end === '') {
    if (seq === 0) throw new ProtocolError('stream data must have an Rp-Seq from 1');
    return { kind: 'data', seq, data: Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength) };
  }
  if (end !== 'end' && end !== 'abort') throw new ProtocolError('a stream end must say Rp-End: end or abort');
  const message = end === 'abort' ? Buffer.from(msg.data).toString('utf8').slice(0, MAX_END_MESSAGE_CHARS) : '';
  return { kind: 'end', seq, aborted: end === 'abort', message };
}

function wholeNumber(text: string | undefined, what: string, zero = false): number {
  if (zero && text === '0') return 0;
  if (text === undefined || !WHOLE.test(text)) throw new ProtocolError(`a stream message has no valid ${what}`);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new ProtocolError(`a stream message has no valid ${what}`);
  return value;
}

export function dataHeaders(seq: number): MsgHdrs {
  const h = headers();
  h.set(H_SEQ, String(seq));
  return h;
}

export function endHeaders(seq: number, aborted: boolean): MsgHdrs {
  const h = headers();
  h.set(H_SEQ, String(seq));
  h.set(H_END, aborted ? 'abort' : 'end');
  return h;
}

export function grantHeaders(bytes: number): MsgHdrs {
  const h = headers();
  h.set(H_GRANT, String(bytes));
  return h;
}

export function stopHeaders(): MsgHdrs {
  const h = headers();
  h.set(H_STOP, '1');
  return h;
}
