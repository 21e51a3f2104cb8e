import { describe, expect, it } from 'vitest';
import { ProtocolError } from '@restpipe/errors';
import { asBuffer, decodeFrame } from './frames.js';
import { HotReader } from './hot-reader.js';
import { FrameType } from './schema.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('the protobufjs path of decodeFrame', () => {
  it('decodes an Event with an unknown field and no data to an empty body, every field set', () => {
    // Event { id: 7, verb: "get", noun: ["time"], field 15: varint 1 }
    const body = hex('1a 0d 08 07 12 03 676574 1a 04 74696d65 78 01');
    expect(new HotReader().decode(body)).toBeUndefined();
    const frame = decodeFrame(body);
    if (frame.kind !== 'event') throw new Error(frame.kind);
    expect(Buffer.isBuffer(frame.event.data)).toBe(true);
    expect(asBuffer(frame.event.data)).toHaveLength(0);
    expect({ ...frame.event, data: undefined }).toEqual({
      id: 7, verb: 'get', noun: ['time'], args: [], query: [], mimeType: '', data: undefined, timeoutMs: 0, requestId: '',
    });
  });

  it('decodes a Reply with an unknown field and no data to an empty body, every field set', () => {
    // Reply { id: 3, field 15: bytes "x" }
    const body = hex('22 05 08 03 7a 01 78');
    expect(new HotReader().decode(body)).toBeUndefined();
    const frame = decodeFrame(body);
    if (frame.kind !== 'reply') throw new Error(frame.kind);
    expect(Buffer.isBuffer(frame.reply.data)).toBe(true);
    expect({ ...frame.reply, data: asBuffer(frame.reply.data).length }).toEqual({ id: 3, returnCode: 0, mimeType: '', data: 0, kind: 0, status: 0 });
  });

  it('fills in the defaults of the rarer frames too, as own fields', () => {
    const frame = decodeFrame(hex('42 00')); // Goaway {}
    expect(frame).toEqual({ kind: 'goaway', goaway: { reason: '', message: '' } });
    expect(Object.keys((frame as { goaway: object }).goaway).sort()).toEqual(['message', 'reason']);
  });

  it.each([
    ['a string whose length runs past the end', '42 04 0a 0a 6162'],
    ['a string field sent as a varint', '0a 02 10 05'],
    ['a number field sent as a group', '3a 02 0b 0c'],
    ['a number field sent length-delimited', '3a 02 0a 05'],
    ['a field numbered 0', '3a 02 00 01'],
    ["a StreamWindow's bytes sent length-delimited", '62 04 08 01 1a 00'],
    ["a StreamWindow's stop sent as a group", '62 02 23 24'],
    ["a StreamEnd's message sent as a varint", '5a 04 08 01 20 01'],
    ['a StreamData field numbered 0', '52 02 00 01'],
    ["an Event's size sent length-delimited", '1a 04 08 01 72 00'],
    ["an Event's size past 2^53 - 1", '1a 0b 08 01 70 80 80 80 80 80 80 80 10'],
    ["a Reply's size of 2^64 - 1", '22 0d 08 01 48 ff ff ff ff ff ff ff ff ff 01'],
  ])('refuses %s, which protobufjs alone would take as a frame', (_what, bytes) => {
    const body = hex(bytes);
    expect(() => FrameType.decode(body)).not.toThrow();
    expect(() => decodeFrame(body)).toThrow(ProtocolError);
  });

  it('takes a size of 2^53 - 1, the largest a number holds exactly, even padded to 10 bytes', () => {
    // Reply { id: 1, size: 2^53 - 1 } with the size's varint padded past the 8 bytes the hot codec reads.
    const body = hex('22 0d 08 01 48 ff ff ff ff ff ff ff 8f 80 00');
    expect(new HotReader().decode(body)).toBeUndefined();
    const frame = decodeFrame(body);
    expect(frame.kind === 'reply' && frame.reply.size).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('refuses a wire type proto3 does not have, as protobufjs does', () => {
    expect(() => decodeFrame(hex('3a 02 7f 01'))).toThrow(ProtocolError);
  });

  it('still takes unknown fields of every proto3 wire type', () => {
    // Cancel { id: 9, f10 varint, f11 fixed64, f12 bytes, f13 fixed32 }
    const body = hex('3a 16 08 09 50 01 59 0102030405060708 62 02 6869 6d 01020304');
    expect(decodeFrame(body)).toEqual({ kind: 'cancel', cancel: { id: 9 } });
  });
});
