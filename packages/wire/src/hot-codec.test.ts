import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder } from './frame-decoder.js';
import { FrameWriter, SEPARATE_DATA_BYTES } from './frame-writer.js';
import { decodeFrame, encodeFrameBytes, type EventFrame, type Frame, type ReplyFrame, type StreamData } from './frames.js';
import { HotReader } from './hot-reader.js';
import { FrameType } from './schema.js';

const uint32 = fc.nat({ max: 0xffff_ffff });
const text = fc.string({ unit: 'binary', maxLength: 70 });
const bytes = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b));

/** Left out, undefined, or a value: the optional fields of jobs (SPEC §8). */
const optional = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined });
const idempotencyKey = fc.oneof(fc.constant(''), fc.string({ unit: 'binary', maxLength: 70 }), fc.string({ unit: 'grapheme', maxLength: 20 }));
const attempt = fc.oneof(fc.constant(0), fc.nat({ max: 300 }), fc.constant(0xffff_ffff), uint32);
/** A streamed body's size: any a number holds exactly, the varints of 5 to 8 bytes among them. */
const size = fc.oneof(fc.constant(0), fc.nat({ max: 300 }), fc.constant(2 ** 32), fc.constant(2 ** 35), fc.constant(Number.MAX_SAFE_INTEGER), fc.maxSafeNat());

const eventArb: fc.Arbitrary<EventFrame> = fc.record({
  id: uint32,
  verb: text,
  noun: fc.array(text, { maxLength: 4 }),
  args: fc.array(text, { maxLength: 4 }),
  query: fc.array(fc.record({ key: text, values: fc.array(text, { maxLength: 3 }) }), { maxLength: 3 }),
  mimeType: text,
  data: bytes,
  timeoutMs: uint32,
  requestId: text,
  idempotencyKey: optional(idempotencyKey),
  attempt: optional(attempt),
  hold: optional(idempotencyKey),
  streamed: optional(fc.boolean()),
  size: optional(size),
}, { requiredKeys: ['id', 'verb', 'noun', 'args', 'query', 'mimeType', 'data', 'timeoutMs', 'requestId'] });

const replyArb: fc.Arbitrary<ReplyFrame> = fc.record({
  id: uint32,
  returnCode: uint32,
  mimeType: text,
  data: bytes,
  kind: fc.constantFrom(0 as const, 1 as const, 2 as const),
  status: uint32,
  replayed: optional(fc.boolean()),
  streamed: optional(fc.boolean()),
  size: optional(size),
}, { requiredKeys: ['id', 'returnCode', 'mimeType', 'data', 'kind', 'status'] });

const streamDataArb = fc.record({ id: uint32, reply: fc.boolean(), data: bytes }).map((streamData) => ({ kind: 'streamData' as const, streamData }));
const streamWindowArb = fc.record({ id: uint32, reply: fc.boolean(), bytes: uint32, stop: fc.boolean() }).map((streamWindow) => ({ kind: 'streamWindow' as const, streamWindow }));

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  eventArb.map((event) => ({ kind: 'event' as const, event })),
  replyArb.map((reply) => ({ kind: 'reply' as const, reply })),
  streamDataArb,
  streamWindowArb,
  fc.record({ id: uint32, reply: fc.boolean(), aborted: fc.boolean(), message: text }).map((streamEnd) => ({ kind: 'streamEnd' as const, streamEnd })),
  uint32.map((seq) => ({ kind: 'ping' as const, ping: { seq } })),
  uint32.map((seq) => ({ kind: 'pong' as const, pong: { seq } })),
  fc.record({ reason: text, message: text }).map((goaway) => ({ kind: 'goaway' as const, goaway })),
);

/** The kinds the hot codec writes and reads itself. */
const HOT_KINDS: ReadonlySet<string> = new Set(['event', 'reply', 'streamData', 'streamWindow', 'ping', 'pong']);

/** The kinds the hot codec reads itself. */
const hotArb: fc.Arbitrary<Frame> = fc.oneof(
  eventArb.map((event) => ({ kind: 'event' as const, event })),
  replyArb.map((reply) => ({ kind: 'reply' as const, reply })),
  streamDataArb,
  streamWindowArb,
  fc.oneof(fc.constant(0), uint32).map((seq) => ({ kind: 'ping' as const, ping: { seq } })),
  fc.oneof(fc.constant(0), uint32).map((seq) => ({ kind: 'pong' as const, pong: { seq } })),
);

/** A frame as protobufjs decodes it, made plain: bytes as hex, defaults filled in. */
function plain(frame: Frame): unknown {
  const message = frame[frame.kind as keyof Frame] as unknown as Record<string, unknown>;
  const type = FrameType.lookupType(`restpipe.v1.${frame.kind === 'helloAck' ? 'HelloAck' : frame.kind[0]!.toUpperCase() + frame.kind.slice(1)}`);
  const object = type.toObject(type.fromObject(message), { defaults: true, arrays: true, bytes: String, longs: Number });
  return { kind: frame.kind, [frame.kind]: object };
}

/**
 * What protobufjs writes for a frame with its defaults left out (a decoded message's
 * defaults sit on its prototype: never written), but for the body, which FrameWriter
 * writes last of its message (field order is free in protobuf) to send it apart.
 */
function referenceBody(frame: Frame): Buffer {
  if (!HOT_KINDS.has(frame.kind)) return encodeFrameBytes(frame).subarray(4);
  const message = frame[frame.kind as keyof Frame] as unknown as Record<string, unknown>;
  const isSet = (v: unknown): boolean => v !== undefined && v !== '' && v !== 0 && v !== false && (v as { length?: number }).length !== 0;
  const withoutDefaults = (m: Record<string, unknown>): Array<[string, unknown]> => Object.entries(m).filter(([, v]) => isSet(v));
  const set = withoutDefaults(message).map(([k, v]): [string, unknown] =>
    [k, k === 'query' ? (v as Array<Record<string, unknown>>).map((q) => Object.fromEntries(withoutDefaults(q))) : v]);
  const field = FrameType.fields[frame.kind]!;
  const type = field.resolvedType as unknown as { encode(m: unknown): { finish(): Uint8Array }; fields: Record<string, { id: number }> };
  const data = set.find(([k]) => k === 'data')?.[1] as Uint8Array | undefined;
  const parts: Buffer[] = [Buffer.from(type.encode(Object.fromEntries(set.filter(([k]) => k !== 'data'))).finish())];
  if (data) parts.push(varint((type.fields['data']!.id << 3) | 2), varint(data.length), Buffer.from(data));
  const inner = Buffer.concat(parts);
  return Buffer.concat([varint((field.id << 3) | 2), varint(inner.length), inner]);
}

function varint(value: number): Buffer {
  const out: number[] = [];
  for (let v = value >>> 0; ; v >>>= 7) {
    if (v < 0x80) return Buffer.from([...out, v]);
    out.push((v & 0x7f) | 0x80);
  }
}

function writeAll(frames: Frame[]): Buffer[] {
  const writer = new FrameWriter();
  for (const frame of frames) writer.append(frame);
  return writer.take();
}

function readAll(chunks: Buffer[]): Frame[] {
  const decoder = new FrameDecoder(1 << 24);
  return chunks.flatMap((chunk) => decoder.push(chunk)).map((body) => decoder.decode(body));
}

/** Lasts the whole file, as a connection's reader does: its memos carry over. */
const reader = new HotReader();

describe('hot codec and FrameWriter, against protobufjs', () => {
  it('writes frames that protobufjs decodes to the same values (property)', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 6 }), (frames) => {
        const bodies = new FrameDecoder(1 << 24).push(Buffer.concat(writeAll(frames)));
        const decoded = bodies.map((body) => {
          const message = FrameType.decode(body) as unknown as Record<string, unknown>;
          const kind = message['kind'] as Frame['kind'];
          return plain({ kind, [kind]: message[kind] } as unknown as Frame);
        });
        expect(decoded).toEqual(frames.map(plain));
      }),
      { numRuns: 300 },
    );
  });

  it('writes, byte for byte, what protobufjs writes for the frame without its defaults, body last (property)', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { minLength: 1, maxLength: 6 }), (frames) => {
        const bodies = new FrameDecoder(1 << 24).push(Buffer.concat(writeAll(frames)));
        expect(bodies.map((b) => b.toString('hex'))).toEqual(frames.map((f) => referenceBody(f).toString('hex')));
      }),
      { numRuns: 300 },
    );
  });

  it('reads what protobufjs writes, on the fast path, to the same values (property)', () => {
    fc.assert(
      fc.property(hotArb, (frame) => {
        const body = encodeFrameBytes(frame).subarray(4);
        const hot = reader.decode(body);
        expect(hot).toBeDefined();
        expect(plain(hot!)).toEqual(plain(frame));
      }),
      { numRuns: 300 },
    );
  });

  it('carries the idempotency key, the attempt, the hold and the replayed flag through both codecs', () => {
    const event: EventFrame = { id: 1, verb: 'post', noun: ['jobs'], args: [], query: [], mimeType: '', data: Buffer.from('{}'), timeoutMs: 0, requestId: '', idempotencyKey: 'job-01', attempt: 3, hold: '01HOLD' };
    const reply: ReplyFrame = { id: 1, returnCode: 0, mimeType: 'application/json', data: Buffer.from('{}'), kind: 0, status: 200, replayed: true };
    const frames: Frame[] = [{ kind: 'event', event }, { kind: 'reply', reply }];
    const hotBodies = new FrameDecoder(1 << 20).push(Buffer.concat(writeAll(frames)));
    const referenceBodies = frames.map((f) => encodeFrameBytes(f).subarray(4));
    for (const bodies of [hotBodies, referenceBodies]) {
      // The hot reader, and decodeFrame (the hot reader, which takes these too).
      for (const decoded of [bodies.map((b) => new HotReader().decode(b)!), bodies.map((b) => decodeFrame(b))]) {
        expect(decoded).toEqual(frames);
      }
      // protobufjs itself, on either codec's bytes.
      const [e, r] = bodies.map((b) => FrameType.toObject(FrameType.decode(b)) as { event?: EventFrame; reply?: ReplyFrame });
      expect([e!.event!.idempotencyKey, e!.event!.attempt, e!.event!.hold, r!.reply!.replayed]).toEqual(['job-01', 3, '01HOLD', true]);
    }
    // protobufjs's path in decodeFrame, taken for a field the hot reader does not know (15, varint 1).
    const extend = (body: Buffer): Buffer => Buffer.concat([Buffer.from([body[0]!, body[1]! + 2]), body.subarray(2), Buffer.from([0x78, 1])]);
    const viaProtobufjs = hotBodies.map(extend);
    for (const body of viaProtobufjs) expect(reader.decode(body)).toBeUndefined();
    expect(viaProtobufjs.map((b) => decodeFrame(b))).toEqual(frames);
  });

  it('decodes the fields of jobs, absent or default, as undefined properties in both codecs', () => {
    const event: EventFrame = { id: 2, verb: 'get', noun: [], args: [], query: [], mimeType: '', data: Buffer.alloc(0), timeoutMs: 0, requestId: '' };
    const reply: ReplyFrame = { id: 2, returnCode: 0, mimeType: '', data: Buffer.alloc(0), kind: 0, status: 200 };
    const explicit: Frame[] = [{ kind: 'event', event: { ...event, idempotencyKey: '', attempt: 0, hold: '' } }, { kind: 'reply', reply: { ...reply, replayed: false } }];
    // FrameWriter leaves defaults off the wire; protobufjs writes them when set: both decode alike.
    const bodies = [...new FrameDecoder(1 << 20).push(Buffer.concat(writeAll(explicit))), ...explicit.map((f) => encodeFrameBytes(f).subarray(4))];
    expect(bodies[0]!.length).toBeLessThan(bodies[2]!.length);
    const extend = (body: Buffer): Buffer => Buffer.concat([Buffer.from([body[0]!, body[1]! + 2]), body.subarray(2), Buffer.from([0x78, 1])]);
    for (const body of bodies) {
      for (const frame of [reader.decode(body)!, decodeFrame(extend(body))]) {
        const message = (frame.kind === 'event' ? frame.event : frame.kind === 'reply' ? frame.reply : {}) as Record<string, unknown>;
        const fields = frame.kind === 'event' ? ['idempotencyKey', 'attempt', 'hold'] : ['replayed'];
        for (const name of fields) {
          expect(name in message, name).toBe(true);
          expect(message[name], name).toBeUndefined();
        }
        expect(frame).toEqual(frame.kind === 'event' ? { kind: 'event', event } : { kind: 'reply', reply });
      }
    }
  });

  it('decodes repeated and same-length verbs, media types and nouns to their own strings', () => {
    const frames: Frame[] = [['get', 'a/b', 'time'], ['get', 'a/b', 'time'], ['put', 'a/c', 'tune'], ['put', 'a/c', 'tune'], ['delete', '', 'x'.repeat(100)], ['get', 'a/b', 'time']]
      .map(([verb, mimeType, noun], id) => ({ kind: 'event', event: { id, verb: verb!, noun: [noun!, 'rest'], args: [], query: [], mimeType: mimeType!, data: Buffer.alloc(0), timeoutMs: 1, requestId: '' } }));
    expect(readAll(writeAll(frames)).map(plain)).toEqual(frames.map(plain));
  });

  it('shares no state between writers or between decoders: interleaved, each has its own frames', () => {
    const event = (id: number, verb: string, mimeType: string, noun: string): Frame =>
      ({ kind: 'event', event: { id, verb, noun: [noun], args: [], query: [], mimeType, data: Buffer.from([id]), timeoutMs: 5, requestId: '' } });
    const [a, b] = [new FrameWriter(), new FrameWriter()];
    const sent: [Frame[], Frame[]] = [[], []];
    for (let id = 0; id < 6; id++) {
      const fa = event(id, 'get', 'application/json', 'time');
      const fb = event(id, id % 2 ? 'put' : 'post', 'text/plain', id % 2 ? 'tune' : 'thyme');
      a.append(fa);
      b.append(fb);
      sent[0].push(fa);
      sent[1].push(fb);
    }
    const streams = [Buffer.concat(a.take()), Buffer.concat(b.take())];
    const decoders = [new FrameDecoder(1 << 20), new FrameDecoder(1 << 20)];
    const bodies = streams.map((stream, i) => decoders[i]!.push(stream));
    const got: [Frame[], Frame[]] = [[], []];
    for (let i = 0; i < 6; i++) for (const side of [0, 1] as const) got[side].push(decoders[side]!.decode(bodies[side]![i]!));
    expect(got.map((frames) => frames.map(plain))).toEqual(sent.map((frames) => frames.map(plain)));
  });

  it('leaves a Ping with a field it does not know to protobufjs, which still decodes it', () => {
    // Ping { seq: 5, field 2: varint 1 }
    const extended = Buffer.from([0x2a, 4, 0x08, 5, 0x10, 1]);
    expect(reader.decode(extended)).toBeUndefined();
    expect(decodeFrame(extended)).toEqual({ kind: 'ping', ping: { seq: 5 } });
  });

  it('leaves a frame with a field it does not know to protobufjs, which still decodes it', () => {
    const event: EventFrame = { id: 7, verb: 'get', noun: ['time'], args: [], query: [], mimeType: '', data: Buffer.alloc(0), timeoutMs: 100, requestId: 'r' };
    const [body] = new FrameDecoder(1 << 20).push(Buffer.concat(writeAll([{ kind: 'event', event }])));
    // Field 15, varint 1, inside the Event: a newer peer's addition.
    const message = Buffer.concat([body!.subarray(2), Buffer.from([0x78, 0x01])]);
    const extended = Buffer.concat([Buffer.from([0x1a, message.length]), message]);
    expect(reader.decode(extended)).toBeUndefined();
    const frame = decodeFrame(extended);
    expect(frame.kind === 'event' && frame.event.noun).toEqual(['time']);
  });

  it('sends a large body as a chunk of its own, not a copy, and a burst of small frames as one buffer', () => {
    const big = Buffer.alloc(SEPARATE_DATA_BYTES, 7);
    const small = (id: number): Frame => ({ kind: 'reply', reply: { id, returnCode: 0, mimeType: 'application/json', data: Buffer.from('{}'), kind: 0, status: 200 } });
    const frames: Frame[] = [small(1), small(2), { kind: 'reply', reply: { id: 3, returnCode: 0, mimeType: '', data: big, kind: 0, status: 200 } }, small(4), { kind: 'pong', pong: { seq: 9 } }];
    const chunks = writeAll(frames);
    expect(chunks).toHaveLength(3);
    expect(chunks[1]).toBe(big);
    expect(writeAll([small(1), small(2), small(3)])).toHaveLength(1);
    expect(readAll(chunks).map(plain)).toEqual(frames.map(plain));
  });

  it('carries streamed bodies (SPEC §12): the flags, sizes up to 2^53 - 1 and the stream frames, through both codecs', () => {
    const event: EventFrame = { id: 8, verb: 'put', noun: ['files'], args: [], query: [], mimeType: 'application/octet-stream', data: Buffer.alloc(0), timeoutMs: 0, requestId: '', streamed: true, size: Number.MAX_SAFE_INTEGER };
    const reply: ReplyFrame = { id: 8, returnCode: 0, mimeType: 'video/mp4', data: Buffer.alloc(0), kind: 0, status: 200, streamed: true, size: 2 ** 32 + 1 };
    const frames: Frame[] = [
      { kind: 'event', event }, { kind: 'reply', reply },
      { kind: 'streamData', streamData: { id: 8, reply: false, data: Buffer.from('first bytes') } },
      { kind: 'streamData', streamData: { id: 0xffff_ffff, reply: true, data: Buffer.alloc(0) } },
      { kind: 'streamWindow', streamWindow: { id: 8, reply: true, bytes: 262_144, stop: false } },
      { kind: 'streamWindow', streamWindow: { id: 8, reply: false, bytes: 0, stop: true } },
      { kind: 'streamEnd', streamEnd: { id: 8, reply: false, aborted: false, message: '' } },
      { kind: 'streamEnd', streamEnd: { id: 8, reply: true, aborted: true, message: 'source failed: EIO' } },
    ];
    const hotBodies = new FrameDecoder(1 << 20).push(Buffer.concat(writeAll(frames)));
    expect(hotBodies.map((b) => b.toString('hex'))).toEqual(frames.map((f) => referenceBody(f).toString('hex')));
    for (const bodies of [hotBodies, frames.map((f) => encodeFrameBytes(f).subarray(4))]) {
      expect(bodies.map((b) => decodeFrame(b))).toEqual(frames);
      // All but StreamEnd, which is rare and left to protobufjs, on the fast path.
      expect(bodies.map((b) => reader.decode(b)?.kind)).toEqual([...frames.slice(0, 6).map((f) => f.kind), undefined, undefined]);
    }
    // The size in protobufjs's own reading of the hot codec's bytes.
    const decoded = FrameType.toObject(FrameType.decode(hotBodies[0]!), { longs: Number }) as { event: EventFrame };
    expect(decoded.event.size).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('decodes streamed false and size 0 as undefined properties, and writes neither: a plain frame keeps its bytes', () => {
    const event: EventFrame = { id: 2, verb: 'get', noun: [], args: [], query: [], mimeType: '', data: Buffer.from('x'), timeoutMs: 0, requestId: '' };
    const reply: ReplyFrame = { id: 2, returnCode: 0, mimeType: '', data: Buffer.from('y'), kind: 0, status: 200 };
    const plainBodies = new FrameDecoder(1 << 20).push(Buffer.concat(writeAll([{ kind: 'event', event }, { kind: 'reply', reply }])));
    const explicit: Frame[] = [{ kind: 'event', event: { ...event, streamed: false, size: 0 } }, { kind: 'reply', reply: { ...reply, streamed: false, size: 0 } }];
    const explicitBodies = new FrameDecoder(1 << 20).push(Buffer.concat(writeAll(explicit)));
    expect(explicitBodies).toEqual(plainBodies);
    for (const body of [...explicitBodies, ...explicit.map((f) => encodeFrameBytes(f).subarray(4))]) {
      const frame = decodeFrame(body);
      const message = (frame.kind === 'event' ? frame.event : frame.kind === 'reply' ? frame.reply : {}) as Record<string, unknown>;
      for (const name of ['streamed', 'size']) {
        expect(name in message, name).toBe(true);
        expect(message[name], name).toBeUndefined();
      }
    }
  });

  it('sends a 64 KiB StreamData as a chunk of its own, the very memory of its data, and a small one inline', () => {
    const big = Buffer.alloc(64 * 1024, 5);
    const arena = new Uint8Array(SEPARATE_DATA_BYTES + 100);
    const view = arena.subarray(50, 50 + SEPARATE_DATA_BYTES); // a Uint8Array, not a Buffer, at an offset
    const data = (id: number, bytes: Uint8Array): Frame => ({ kind: 'streamData', streamData: { id, reply: id % 2 === 0, data: bytes } });
    const window: Frame = { kind: 'streamWindow', streamWindow: { id: 1, reply: false, bytes: 65_536, stop: false } };
    const frames = [window, data(1, big), data(2, view), data(3, Buffer.from('tail')), window];
    const chunks = writeAll(frames);
    expect(chunks).toHaveLength(5);
    expect(chunks[1]).toBe(big);
    expect([chunks[3]!.buffer, chunks[3]!.byteOffset, chunks[3]!.length]).toEqual([arena.buffer, 50, SEPARATE_DATA_BYTES]);
    expect(chunks[4]!.length).toBeLessThan(50); // the small StreamData and the StreamWindow, copied together
    expect(readAll(chunks).map(plain)).toEqual(frames.map(plain));
    expect(writeAll([data(1, Buffer.alloc(SEPARATE_DATA_BYTES - 1)), window])).toHaveLength(1);
  });

  it("reads a StreamData's data as a view of the frame body, not a copy", () => {
    const [body] = new FrameDecoder(1 << 20).push(Buffer.concat(writeAll([{ kind: 'streamData', streamData: { id: 3, reply: true, data: Buffer.alloc(1000, 9) } }])));
    for (const frame of [reader.decode(body!)!, decodeFrame(body!)]) {
      const got = (frame as { streamData: StreamData }).streamData.data;
      expect(got.buffer).toBe(body!.buffer);
      expect(got.byteOffset - body!.byteOffset).toBe(body!.length - 1000);
      expect(got.length).toBe(1000);
    }
  });

  it('hands protobufjs, and so a ProtocolError, any Event, Reply or stream frame it cannot read (property)', () => {
    fc.assert(
      fc.property(fc.constantFrom(0x1a, 0x22, 0x52, 0x5a, 0x62), fc.uint8Array({ maxLength: 40 }), (tag, rest) => {
        const body = Buffer.from([tag, ...rest]);
        try {
          decodeFrame(body);
        } catch (error) {
          expect((error as { code?: string }).code).toBe('RP_ERR_PROTOCOL');
        }
      }),
      { numRuns: 1000 },
    );
  });
});
