/**
 * Differential fuzzing of the three readers of the wire: the FrameDecoder that
 * cuts the byte stream into bodies, the hot codec that reads Event, Reply,
 * StreamData, StreamWindow, Ping and Pong bodies itself, and protobufjs, the reference. Fed the same random
 * frames, valid ones and mutated or random bytes, they must agree on the frame,
 * or all refuse it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameTooLargeError } from '@restpipe/errors';
import { FrameDecoder } from './frame-decoder.js';
import { decodeFrame, encodeFrameBytes, LENGTH_PREFIX_BYTES, type Frame } from './frames.js';
import { HotReader } from './hot-reader.js';
import { FrameType } from './schema.js';
import { checkWireFormat } from './wire-check.js';

// ---- random frames -------------------------------------------------------

/** Mostly small values, often the default (left off the wire), sometimes the extremes. */
const uint32 = fc.oneof(fc.constant(0), fc.nat({ max: 300 }), fc.constant(0xffff_ffff), fc.nat({ max: 0xffff_ffff }));
const text = fc.oneof(fc.constant(''), fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 70 }));
const bytes = fc.oneof(fc.constant(Buffer.alloc(0)), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)));
const texts = fc.array(text, { maxLength: 4 });
/** A streamed body's size: up to 2^53 - 1, past every varint length a uint32 has. */
const uint64 = fc.oneof(fc.constant(0), fc.nat({ max: 300 }), fc.constant(2 ** 32), fc.constant(Number.MAX_SAFE_INTEGER), fc.maxSafeNat());
const limits = { heartbeatMs: uint32, maxEventBytes: uint32, maxInFlight: uint32, maxConcurrency: uint32, maxInboundBytes: uint32 };
const helloFlags = fc.record({
  idempotencyKeys: fc.option(fc.boolean(), { nil: undefined }), holds: fc.option(fc.boolean(), { nil: undefined }), streamWindow: fc.option(uint32, { nil: undefined }),
}, { requiredKeys: [] });
const hello = fc.tuple(fc.record({ protocolVersion: uint32, software: text, ...limits }), helloFlags).map(([h, f]) => ({ ...h, ...f }));

/**
 * The optional fields of jobs (SPEC §8): each left out, set to undefined, set to its
 * default (which the wire cannot tell from absent) or set. Keys of any Unicode.
 */
const optional = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined });
const idempotencyKey = fc.oneof(fc.constant(''), fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 70 }), fc.string({ unit: 'grapheme', maxLength: 20 }));
const attempt = fc.oneof(fc.constant(0), fc.constant(1), fc.nat({ max: 300 }), fc.constant(0xffff_ffff), fc.nat({ max: 0xffff_ffff }));
const jobFields = fc.record({ idempotencyKey: optional(idempotencyKey), attempt: optional(attempt), hold: optional(idempotencyKey) }, { requiredKeys: [] });
const replayed = fc.record({ replayed: optional(fc.boolean()) }, { requiredKeys: [] });
/** The fields of a streamed body (SPEC §12), on an Event or a Reply. */
const streamFields = fc.record({ streamed: optional(fc.boolean()), size: optional(uint64) }, { requiredKeys: [] });
const streamRef = { id: uint32, reply: fc.boolean() };

const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  hello.map((h) => ({ kind: 'hello' as const, hello: h })),
  fc.tuple(fc.record({ protocolVersion: uint32, software: text, ...limits, peerName: text }), helloFlags).map(([h, f]) => ({ kind: 'helloAck' as const, helloAck: { ...h, ...f } })),
  fc.tuple(fc.record({
    id: uint32, verb: text, noun: texts, args: texts,
    query: fc.array(fc.record({ key: text, values: texts }), { maxLength: 3 }),
    mimeType: text, data: bytes, timeoutMs: uint32, requestId: text,
  }), jobFields, streamFields).map(([event, job, stream]) => ({ kind: 'event' as const, event: { ...event, ...job, ...stream } })),
  fc.tuple(fc.record({ id: uint32, returnCode: uint32, mimeType: text, data: bytes, kind: fc.constantFrom(0 as const, 1 as const, 2 as const), status: uint32 }), replayed, streamFields)
    .map(([reply, r, stream]) => ({ kind: 'reply' as const, reply: { ...reply, ...r, ...stream } })),
  fc.record({ ...streamRef, data: bytes }).map((streamData) => ({ kind: 'streamData' as const, streamData })),
  fc.record({ ...streamRef, aborted: fc.boolean(), message: text }).map((streamEnd) => ({ kind: 'streamEnd' as const, streamEnd })),
  fc.record({ ...streamRef, bytes: uint32, stop: fc.boolean() }).map((streamWindow) => ({ kind: 'streamWindow' as const, streamWindow })),
  uint32.map((seq) => ({ kind: 'ping' as const, ping: { seq } })),
  uint32.map((seq) => ({ kind: 'pong' as const, pong: { seq } })),
  uint32.map((id) => ({ kind: 'cancel' as const, cancel: { id } })),
  fc.record({ reason: text, message: text }).map((goaway) => ({ kind: 'goaway' as const, goaway })),
  text.map((hold) => ({ kind: 'holdNotice' as const, holdNotice: { hold } })),
);

const bodyOf = (frame: Frame): Buffer => encodeFrameBytes(frame).subarray(LENGTH_PREFIX_BYTES);

type Mutation =
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number }
  | { op: 'truncate'; at: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.nat({ max: 255 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(body: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(body);
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % (out.length + (m.op === 'insert' ? 1 : 0));
    if (m.op === 'set' && out.length > 0) out[at] = m.value;
    else if (m.op === 'insert') out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    else if (m.op === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.count)]);
    else if (m.op === 'truncate') out = out.subarray(0, at);
  }
  return out;
}

/** Unknown fields of every wire type proto3 has, as a newer peer might add them (Event knows up to 14, Hello 10, HelloAck 11). */
const unknownFieldArb = fc.tuple(fc.integer({ min: 15, max: 2000 }), fc.constantFrom(0, 1, 2, 5), uint32, fc.uint8Array({ maxLength: 9 }))
  .map(([field, wireType, value, payload]) => {
    const tag = varint(((field << 3) | wireType) >>> 0);
    if (wireType === 0) return Buffer.concat([tag, varint(value)]);
    if (wireType === 2) return Buffer.concat([tag, varint(payload.length), payload]);
    return Buffer.concat([tag, Buffer.alloc(wireType === 1 ? 8 : 4, value & 0xff)]);
  });

/** The frame's message with unknown fields appended. */
function withUnknownFields(body: Buffer, fields: readonly Buffer[]): Buffer {
  const message = FrameType.decode(body) as unknown as Record<string, unknown>;
  const kind = message['kind'] as string;
  const inner = FrameType.fields[kind]!.resolvedType as unknown as { encode(m: unknown): { finish(): Uint8Array } };
  const extended = Buffer.concat([inner.encode(message[kind]).finish(), ...fields]);
  return Buffer.concat([varint((FrameType.fields[kind]!.id << 3) | 2), varint(extended.length), extended]);
}

const extendedArb = fc.tuple(frameArb, fc.array(unknownFieldArb, { minLength: 1, maxLength: 3 })).map(([f, u]) => withUnknownFields(bodyOf(f), u));

function varint(value: number): Buffer {
  const out: number[] = [];
  let v = value >>> 0;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}

/** A varint of any 64-bit value (a bigint), as long as it takes or padded to 10 bytes. */
function varint64(value: bigint, padded: boolean): Buffer {
  const out: number[] = [];
  for (let v = value, i = 0; i < 10; i++, v >>= 7n) {
    const last = padded ? i === 9 : v < 0x80n;
    out.push(Number(v & 0x7fn) | (last ? 0 : 0x80));
    if (last) break;
  }
  return Buffer.from(out);
}

/**
 * An Event (field 14) or a Reply (field 9) whose `size` is any uint64, near 2^53
 * most often: past 2^53 - 1, which a number does not hold, it is refused.
 */
const sizedArb = fc.tuple(
  fc.boolean(),
  fc.oneof(fc.bigInt(0n, 2n ** 64n - 1n), fc.bigInt(2n ** 53n - 3n, 2n ** 53n + 3n), fc.bigInt(2n ** 63n - 1n, 2n ** 64n - 1n)),
  fc.boolean(),
).map(([event, size, padded]) => {
  const message = Buffer.concat([Buffer.from([0x08, 0x05, event ? 0x70 : 0x48]), varint64(size, padded)]);
  return { body: Buffer.concat([Buffer.from([event ? 0x1a : 0x22, message.length]), message]), size };
});

/** A body: valid, a valid one mutated, a valid one with an unknown field added, one with a large size, or noise. */
const bodyArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 2, arbitrary: frameArb.map(bodyOf) },
  { weight: 5, arbitrary: fc.tuple(frameArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([f, m]) => mutate(bodyOf(f), m)) },
  { weight: 1, arbitrary: extendedArb },
  { weight: 1, arbitrary: sizedArb.map(({ body }) => body) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b)) },
);


// ---- the three readers, made comparable -----------------------------------

const REFUSED = 'refused';

/** Plain data: bytes as base64, no prototypes, so decoders compare by value alone. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.length).toString('base64');
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/**
 * The contract's frame: every field with its default, except the optional fields
 * of jobs and streams, undefined when absent or default (which proto3 cannot tell apart).
 */
function canonical(kind: string, message: Record<string, unknown>): Record<string, unknown> {
  const defaultIsUndefined = (field: string, byDefault: unknown): unknown => (message[field] === byDefault ? undefined : message[field]);
  const stream = (): Record<string, unknown> => ({ streamed: defaultIsUndefined('streamed', false), size: defaultIsUndefined('size', 0) });
  if (kind === 'event') {
    return { ...message, idempotencyKey: defaultIsUndefined('idempotencyKey', ''), attempt: defaultIsUndefined('attempt', 0), hold: defaultIsUndefined('hold', ''), ...stream() };
  }
  if (kind === 'reply') return { ...message, replayed: defaultIsUndefined('replayed', false), ...stream() };
  if (kind === 'hello' || kind === 'helloAck') {
    return { ...message, idempotencyKeys: defaultIsUndefined('idempotencyKeys', false), holds: defaultIsUndefined('holds', false), streamWindow: defaultIsUndefined('streamWindow', 0) };
  }
  return message;
}

/** protobufjs alone, made the contract's frame: a uint64 as a number, as close as a number comes. */
function reference(body: Buffer): unknown {
  let object: Record<string, unknown>;
  try {
    object = FrameType.toObject(FrameType.decode(body), { defaults: true, arrays: true, oneofs: true, bytes: String, longs: Number });
  } catch {
    return REFUSED;
  }
  const kind = object['kind'] as string | undefined;
  return kind ? { kind, [kind]: canonical(kind, object[kind] as Record<string, unknown>) } : REFUSED;
}

/**
 * One hot reader and one decoder for the whole run, as a connection has one of
 * each: their memos (verb, media type, first noun segment) carry over from body to body.
 */
const lastingReader = new HotReader();
const lastingDecoder = new FrameDecoder(1 << 24);

function settle(decode: () => Frame): unknown {
  try {
    return plain(decode());
  } catch (error) {
    expect((error as { code?: string }).code).toBe('RP_ERR_PROTOCOL');
    return REFUSED;
  }
}

/** What a connection decodes, which must be what the stateless decodeFrame does. */
function production(body: Buffer): unknown {
  const lasting = settle(() => lastingDecoder.decode(body));
  expect(lasting).toEqual(settle(() => decodeFrame(body)));
  return lasting;
}

function checkAgreement(body: Buffer): void {
  const expected = reference(body);
  const hot = lastingReader.decode(body);
  if (hot) {
    expect(plain(hot)).toEqual(expected);
    expect(() => checkWireFormat(body, FrameType)).not.toThrow();
  }
  const actual = production(body);
  // protobufjs alone accepts some garbage (see wire-check.ts): refusing that is no disagreement.
  if (actual === REFUSED && expected !== REFUSED) expect(() => checkWireFormat(body, FrameType)).toThrow();
  else expect(actual).toEqual(expected);
}

// ---- the stream ------------------------------------------------------------

/** The frame cutter in its simplest form: what FrameDecoder must do, however the bytes arrive. */
function referenceCut(stream: Buffer, max: number): { bodies: Buffer[]; tooLarge: boolean } {
  const bodies: Buffer[] = [];
  let at = 0;
  while (stream.length - at >= LENGTH_PREFIX_BYTES) {
    const length = stream.readUInt32BE(at);
    if (length > max) return { bodies, tooLarge: true };
    if (stream.length - at - LENGTH_PREFIX_BYTES < length) break;
    bodies.push(stream.subarray(at + LENGTH_PREFIX_BYTES, at + LENGTH_PREFIX_BYTES + length));
    at += LENGTH_PREFIX_BYTES + length;
  }
  return { bodies, tooLarge: false };
}

function split(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const point of [...points, stream.length]) {
    chunks.push(stream.subarray(from, point));
    from = point;
  }
  return chunks;
}

type Feed = 'push' | 'each' | 'each-pausing';

/**
 * Feeds the chunks as a connection would. 'each-pausing' refuses every third
 * body (a connection that stops reading) and resumes with an empty chunk.
 */
function decodeStream(chunks: readonly Buffer[], max: number, feed: Feed): { bodies: Buffer[]; tooLarge: boolean } {
  const decoder = new FrameDecoder(max);
  const bodies: Buffer[] = [];
  let seen = 0;
  const take = (body: Buffer): boolean => {
    bodies.push(Buffer.from(body));
    return feed !== 'each-pausing' || ++seen % 3 !== 0;
  };
  try {
    for (const chunk of chunks) {
      if (feed === 'push') bodies.push(...decoder.push(chunk).map((b) => Buffer.from(b)));
      else decoder.each(chunk, take);
      for (let before = -1; feed === 'each-pausing' && before !== bodies.length;) {
        before = bodies.length;
        decoder.each(Buffer.alloc(0), take);
      }
    }
  } catch (error) {
    expect(error).toBeInstanceOf(FrameTooLargeError);
    return { bodies, tooLarge: true };
  }
  return { bodies, tooLarge: false };
}

const prefixed = (body: Buffer): Buffer => Buffer.concat([varintFree32(body.length), body]);
const varintFree32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

describe('the frame decoder, the hot codec and protobufjs agree', () => {
  it('on every body, valid, mutated, extended or random: the same frame, or all refuse (property)', () => {
    fc.assert(fc.property(bodyArb, checkAgreement), { numRuns: 20_000 });
  });

  it('on valid frames, which all three decode to the values encoded (property)', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        const body = bodyOf(frame);
        const message = (frame as Record<string, unknown>)[frame.kind] as Record<string, unknown>;
        expect(reference(body)).toEqual(plain({ kind: frame.kind, [frame.kind]: canonical(frame.kind, message) }));
        checkAgreement(body);
      }),
      { numRuns: 3_000 },
    );
  });

  it('on a size of any uint64: exact up to 2^53 - 1, refused past it, by the hot codec and protobufjs alike (property)', () => {
    fc.assert(
      fc.property(sizedArb, ({ body, size }) => {
        checkAgreement(body);
        const frame = production(body) as { kind: string; event?: { size?: number }; reply?: { size?: number } };
        if (size > BigInt(Number.MAX_SAFE_INTEGER)) expect(frame).toBe(REFUSED);
        else expect((frame.event ?? frame.reply)!.size).toBe(size === 0n ? undefined : Number(size));
      }),
      { numRuns: 2_000 },
    );
  });

  it('on frames with unknown fields, which all three accept: protobufjs in the end, with every known field (property)', () => {
    fc.assert(
      fc.property(extendedArb, (body) => {
        expect(production(body)).not.toBe(REFUSED);
        checkAgreement(body);
      }),
      { numRuns: 3_000 },
    );
  });

  it('on a stream of such bodies cut anywhere: the same bodies, the same refusal of an oversize prefix (property)', () => {
    const piece = fc.oneof(
      { weight: 6, arbitrary: bodyArb.map(prefixed) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)) },
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), fc.integer({ min: 0, max: 400 }),
        fc.constantFrom<Feed>('push', 'each', 'each-pausing'), (pieces, cuts, max, feed) => {
          const stream = Buffer.concat(pieces);
          const expected = referenceCut(stream, max);
          const actual = decodeStream(split(stream, cuts), max, feed);
          const hex = (list: Buffer[]): string[] => list.map((b) => b.toString('hex'));
          expect(actual.tooLarge).toBe(expected.tooLarge);
          // push() throws away the bodies it had cut from the chunk that ends in a refusal.
          const comparable = feed === 'push' && expected.tooLarge ? expected.bodies.slice(0, actual.bodies.length) : expected.bodies;
          expect(hex(actual.bodies)).toEqual(hex(comparable));
          for (const body of actual.bodies) checkAgreement(body);
        }),
      { numRuns: 3_000 },
    );
  });
});
