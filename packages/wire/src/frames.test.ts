import { describe, expect, it } from 'vitest';
import { ProtocolError } from '@restpipe/errors';
import { FrameDecoder } from './frame-decoder.js';
import { decodeFrame, encodeFrameBytes, ReplyKind, type Frame } from './frames.js';

const samples: Frame[] = [
  { kind: 'hello', hello: { protocolVersion: 1, software: 't', heartbeatMs: 5000, maxEventBytes: 10, maxInFlight: 3, maxConcurrency: 2, streamWindow: 262_144 } },
  { kind: 'helloAck', helloAck: { protocolVersion: 1, software: 's', heartbeatMs: 100, maxEventBytes: 9, maxInFlight: 8, maxConcurrency: 7, peerName: 'node-a', streamWindow: 1 } },
  { kind: 'event', event: { id: 4294967295, verb: 'get', noun: ['time', 'utc'], args: ['hello ', 'world'], query: [{ key: 'q', values: ['1', '2'] }], mimeType: 'application/json', data: Buffer.from('{}'), timeoutMs: 30000, requestId: 'abc' } },
  { kind: 'reply', reply: { id: 5, returnCode: 251, mimeType: 'application/json', data: Buffer.from([0, 1, 255]), kind: ReplyKind.EXCEPTION, status: 500 } },
  { kind: 'ping', ping: { seq: 1 } },
  { kind: 'pong', pong: { seq: 1 } },
  { kind: 'cancel', cancel: { id: 9 } },
  { kind: 'goaway', goaway: { reason: 'duplicate_identity', message: 'replaced' } },
  { kind: 'event', event: { id: 6, verb: 'put', noun: ['files'], args: [], query: [], mimeType: '', data: Buffer.alloc(0), timeoutMs: 0, requestId: '', streamed: true, size: 2 ** 53 - 1 } },
  { kind: 'reply', reply: { id: 6, returnCode: 0, mimeType: 'text/plain', data: Buffer.alloc(0), kind: ReplyKind.VALUE, status: 200, streamed: true, size: 2 ** 40 } },
  { kind: 'streamData', streamData: { id: 6, reply: true, data: Buffer.from([1, 2, 3]) } },
  { kind: 'streamEnd', streamEnd: { id: 6, reply: true, aborted: true, message: 'EIO' } },
  { kind: 'streamWindow', streamWindow: { id: 6, reply: false, bytes: 65_536, stop: true } },
];

/** The fields of `actual` that `expected` names, bytes as hex: decoded messages carry defaults on their prototype. */
function shaped(actual: unknown, expected: unknown): unknown {
  if (expected instanceof Uint8Array) return Buffer.from(actual as Uint8Array).toString('hex');
  if (Array.isArray(expected)) return expected.map((e, i) => shaped((actual as unknown[])[i], e));
  if (expected && typeof expected === 'object') {
    return Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, shaped((actual as Record<string, unknown>)[k], v)]));
  }
  return actual;
}

const hex = (frame: unknown): unknown => shaped(frame, frame);

describe('frames', () => {
  it.each(samples.map((f) => [f.kind, f] as const))('round-trips a %s frame', (_kind, frame) => {
    const [body] = new FrameDecoder(1 << 20).push(encodeFrameBytes(frame));
    expect(shaped(decodeFrame(body!), frame)).toEqual(hex(frame));
  });

  it('prefixes every frame with its big-endian body length', () => {
    const bytes = encodeFrameBytes(samples[2]!);
    expect(bytes.readUInt32BE(0)).toBe(bytes.length - 4);
  });

  it('rejects a frame with no known kind', () => {
    expect(() => decodeFrame(Buffer.alloc(0))).toThrow(ProtocolError);
    // Field 99, varint: an unknown kind from a newer peer.
    expect(() => decodeFrame(Buffer.from([0x98, 0x06, 0x01]))).toThrow(ProtocolError);
  });

  it('decodes a Hello without a stream window (an older peer) as streamWindow undefined', () => {
    const hello = { protocolVersion: 1, software: 't', heartbeatMs: 5000, maxEventBytes: 10, maxInFlight: 3, maxConcurrency: 2, maxInboundBytes: 0 };
    for (const frame of [{ kind: 'hello', hello }, { kind: 'hello', hello: { ...hello, streamWindow: 0 } }] as Frame[]) {
      const decoded = decodeFrame(encodeFrameBytes(frame).subarray(4));
      expect(decoded.kind === 'hello' && 'streamWindow' in decoded.hello && decoded.hello.streamWindow).toBeUndefined();
    }
  });

  it.each([
    ['a StreamData whose data runs past the end', '52 06 08 01 1a 05 6162'],
    ["a StreamData's data sent as a varint", '52 04 08 01 18 05'],
    ['a StreamData cut inside its id', '52 02 08 80'],
    ['a StreamWindow longer than its frame', '62 05 08 01 18 02'],
    ['a StreamWindow with bytes past 10 varint bytes', '62 0c 18 ff ff ff ff ff ff ff ff ff ff 01'],
    ['a StreamEnd whose message runs past the end', '5a 04 22 09 6162'],
    ['a StreamData with bytes after its message', '52 02 08 01 ff'],
  ])('rejects %s with ProtocolError', (_what, bytes) => {
    expect(() => decodeFrame(Buffer.from(bytes.replace(/\s+/g, ''), 'hex'))).toThrow(ProtocolError);
  });

  it('rejects truncated and garbage bodies with ProtocolError', () => {
    const body = encodeFrameBytes(samples[2]!).subarray(4);
    expect(() => decodeFrame(body.subarray(0, body.length - 3))).toThrow(ProtocolError);
    expect(() => decodeFrame(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(ProtocolError);
  });
});
