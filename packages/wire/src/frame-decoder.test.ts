import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FrameTooLargeError, ProtocolError, RpError } from '@restpipe/errors';
import { FrameDecoder } from './frame-decoder.js';
import { FrameWriter } from './frame-writer.js';
import { decodeFrame, encodeFrameBytes, type Frame } from './frames.js';

const MAX = 1024;

function event(id: number, text: string): Frame {
  return {
    kind: 'event',
    event: { id, verb: 'post', noun: ['echo'], args: ['a b', ''], query: [], mimeType: 'text/plain', data: Buffer.from(text), timeoutMs: 1000, requestId: `r${id}` },
  };
}

function stream(): { bytes: Buffer; frames: Frame[] } {
  const frames = [event(1, 'hello'), { kind: 'ping', ping: { seq: 7 } } as Frame, event(2, ''), event(3, 'x'.repeat(300))];
  return { bytes: Buffer.concat(frames.map(encodeFrameBytes)), frames };
}

function ids(bodies: Buffer[]): string[] {
  return bodies.map((b) => {
    const f = decodeFrame(b);
    return f.kind === 'event' ? `event:${f.event.id}:${Buffer.from(f.event.data).toString()}` : f.kind;
  });
}

afterEach(() => vi.restoreAllMocks());

describe('FrameDecoder', () => {
  it('yields the same frames whatever the split point', () => {
    const { bytes } = stream();
    const whole = ids(new FrameDecoder(MAX).push(bytes));
    expect(whole).toHaveLength(4);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const decoder = new FrameDecoder(MAX);
      const got = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
      expect(ids(got)).toEqual(whole);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  it('yields the same frames fed one byte at a time', () => {
    const { bytes } = stream();
    const decoder = new FrameDecoder(MAX);
    const got: Buffer[] = [];
    for (const byte of bytes) got.push(...decoder.push(Buffer.from([byte])));
    expect(ids(got)).toEqual(ids(new FrameDecoder(MAX).push(bytes)));
  });

  it('each() hands over bodies in order and stops when told to, whole frames or split', () => {
    const { bytes } = stream();
    for (const cut of [0, 3, 20, bytes.length - 1]) {
      const decoder = new FrameDecoder(MAX);
      const seen: Buffer[] = [];
      const takeTwo = (body: Buffer): boolean => seen.push(body) < 2;
      decoder.each(bytes.subarray(0, cut), takeTwo);
      if (seen.length < 2) decoder.each(bytes.subarray(cut), takeTwo);
      expect(ids(seen)).toEqual(['event:1:hello', 'ping']);
    }
  });

  it('accepts a frame of exactly the maximum length', () => {
    const body = Buffer.alloc(MAX, 1);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(MAX);
    expect(new FrameDecoder(MAX).push(Buffer.concat([prefix, body]))[0]).toHaveLength(MAX);
  });

  it.each([MAX + 1, 0xffffffff])('rejects a declared length of %i from the prefix alone, without allocating', (length) => {
    const allocUnsafe = vi.spyOn(Buffer, 'allocUnsafe');
    const alloc = vi.spyOn(Buffer, 'alloc');
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(length >>> 0);
    alloc.mockClear();
    const decoder = new FrameDecoder(MAX);
    // Split the prefix too: the check must not need the body.
    expect(decoder.push(prefix.subarray(0, 2))).toEqual([]);
    expect(() => decoder.push(prefix.subarray(2))).toThrow(FrameTooLargeError);
    const sizes = [...allocUnsafe.mock.calls, ...alloc.mock.calls].map((c) => c[0] as number);
    expect(sizes.every((n) => n <= 4)).toBe(true);
  });

  it('never throws anything but its own errors, and never allocates past the maximum (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (chunks) => {
        const allocUnsafe = vi.spyOn(Buffer, 'allocUnsafe');
        const decoder = new FrameDecoder(MAX);
        try {
          for (const chunk of chunks) {
            for (const body of decoder.push(Buffer.from(chunk))) {
              try {
                decodeFrame(body);
              } catch (error) {
                expect(error).toBeInstanceOf(ProtocolError);
              }
            }
          }
        } catch (error) {
          expect(error).toBeInstanceOf(FrameTooLargeError);
          expect((error as RpError).code).toBe('RP_ERR_FRAME_TOO_LARGE');
        }
        const sizes = allocUnsafe.mock.calls.map((c) => c[0] as number);
        allocUnsafe.mockRestore();
        expect(sizes.every((n) => n <= MAX)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('decodes 64 KiB StreamData frames fed in any pieces, viewing the data where it arrived when whole', () => {
    const data = Buffer.alloc(64 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const frames: Frame[] = [
      { kind: 'streamData', streamData: { id: 1, reply: false, data } },
      { kind: 'streamWindow', streamWindow: { id: 1, reply: false, bytes: 65_536, stop: false } },
      { kind: 'streamData', streamData: { id: 1, reply: false, data: data.subarray(0, 10) } },
      { kind: 'streamEnd', streamEnd: { id: 1, reply: false, aborted: false, message: '' } },
    ];
    const writer = new FrameWriter();
    for (const frame of frames) writer.append(frame);
    const bytes = Buffer.concat(writer.take());
    const max = 64 * 1024 + 16;
    const whole = new FrameDecoder(max);
    const decoded = whole.push(bytes).map((body) => whole.decode(body));
    expect(decoded).toEqual(frames);
    const first = decoded[0]!.kind === 'streamData' ? decoded[0]!.streamData.data : undefined;
    expect(first?.buffer).toBe(bytes.buffer);
    for (const step of [1009, 7919, 40_000]) {
      const decoder = new FrameDecoder(max);
      const got: Frame[] = [];
      for (let at = 0; at < bytes.length; at += step) got.push(...decoder.push(bytes.subarray(at, at + step)).map((b) => decoder.decode(b)));
      expect(got).toEqual(frames);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  it('stops where onBody says, keeps the rest, and goes on from there (whatever the split)', () => {
    const { bytes } = stream();
    const whole = ids(new FrameDecoder(MAX).push(bytes));
    for (let cut = 0; cut <= bytes.length; cut++) {
      const decoder = new FrameDecoder(MAX);
      const got: Buffer[] = [];
      // Take one frame per call, then stop: as a connection does when it stops reading.
      const one = (body: Buffer): boolean => {
        got.push(body);
        return false;
      };
      decoder.each(bytes.subarray(0, cut), one);
      decoder.hold(bytes.subarray(cut));
      for (let i = 0; i < 10 && got.length < whole.length; i++) decoder.each(Buffer.alloc(0), one);
      expect(ids(got)).toEqual(whole);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });
});
