import { describe, expect, it } from 'vitest';
import { ProtocolError } from '@restpipe/errors';
import { FrameDecoder } from './frame-decoder.js';
import { decodeFrame, encodeFrameBytes, ReplyKind, type Frame } from './frames.js';

const samples: Frame[] = [
  { kind: 'hello', hello: { protocolVersion: 1, software: 't', heartbeatMs: 5000, maxEventBytes: 10, maxInFlight: 3, maxConcurrency: 2 } },
  { kind: 'helloAck', helloAck: { protocolVersion: 1, software: 's', heartbeatMs: 100, maxEventBytes: 9, maxInFlight: 8, maxConcurrency: 7, peerName: 'node-a' } },
  { kind: 'event', event: { id: 4294967295, verb: 'get', noun: ['time', 'utc'], args: ['hello ', 'world'], query: [{ key: 'q', values: ['1', '2'] }], mimeType: 'application/json', data: Buffer.from('{}'), timeoutMs: 30000, requestId: 'abc' } },
  { kind: 'reply', reply: { id: 5, returnCode: 251, mimeType: 'application/json', data: Buffer.from([0, 1, 255]), kind: ReplyKind.EXCEPTION, status: 500 } },
  { kind: 'ping', ping: { seq: 1 } },
  { kind: 'pong', pong: { seq: 1 } },
  { kind: 'cancel', cancel: { id: 9 } },
  { kind: 'goaway', goaway: { reason: 'duplicate_identity', message: 'replaced' } },
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

  it('rejects truncated and garbage bodies with ProtocolError', () => {
    const body = encodeFrameBytes(samples[2]!).subarray(4);
    expect(() => decodeFrame(body.subarray(0, body.length - 3))).toThrow(ProtocolError);
    expect(() => decodeFrame(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(ProtocolError);
  });
});
