/**
 * A strict walk over a frame body's wire format, run before protobufjs decodes
 * a frame the hot codec left to it. protobufjs trusts what it reads: a string
 * whose length runs past the end of its message is cut short, a field with the
 * wrong wire type is read as whatever its schema says (a group tag as a number,
 * a varint as the length of a string), and field number 0 is skipped. Each of
 * these turns garbage into a frame; here they are refused, as the hot codec
 * refuses them, so that both paths agree (codec-differential.test.ts). So is a
 * uint64 past 2^53 - 1 (a streamed body's `size`), which the frame's number
 * would not hold exactly: no body is that long, and a wrong size is a wrong frame.
 *
 * Unknown fields stay welcome (a newer peer's additions) with the wire types
 * proto3 has: varint, 64-bit, length-delimited and 32-bit. Groups never.
 */
import protobuf from 'protobufjs';

const WIRE = { VARINT: 0, FIXED64: 1, DELIMITED: 2, FIXED32: 5 } as const;
const MAX_VARINT_BYTES = 10;

class Cursor {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  /** A varint's value, as far as a uint32 holds it; the varint must end by `end`. */
  varint(end: number): number {
    let value = 0;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.pos >= end) throw new Error('varint runs past the end of its message');
      const byte = this.bytes[this.pos++]!;
      if (i < 5) value |= (byte & 0x7f) << (7 * i);
      if (byte < 0x80) return value >>> 0;
    }
    throw new Error('varint longer than 10 bytes');
  }

  /**
   * A varint's value as protobufjs reads a uint64 (its low 64 bits), in a number:
   * exact up to 2^53 - 1, and above it whenever the value is.
   */
  varint64(end: number): number {
    let value = 0;
    for (let i = 0, scale = 1; i < MAX_VARINT_BYTES; i++, scale *= 0x80) {
      if (this.pos >= end) throw new Error('varint runs past the end of its message');
      const byte = this.bytes[this.pos++]!;
      value += (i < MAX_VARINT_BYTES - 1 ? byte & 0x7f : byte & 0x01) * scale;
      if (byte < 0x80) return value;
    }
    throw new Error('varint longer than 10 bytes');
  }

  skip(n: number, end: number): void {
    if (n > end - this.pos) throw new Error('field runs past the end of its message');
    this.pos += n;
  }
}

/** Wire types a known field may arrive with. */
function wireTypesOf(field: protobuf.Field): readonly number[] {
  field.resolve();
  if (field.resolvedType instanceof protobuf.Type) return [WIRE.DELIMITED];
  if (field.resolvedType instanceof protobuf.Enum) return field.repeated ? [WIRE.VARINT, WIRE.DELIMITED] : [WIRE.VARINT];
  const basic = (protobuf.types.basic as Record<string, number>)[field.type];
  if (basic === undefined) throw new Error(`no wire type for ${field.type}`);
  const packable = field.repeated && (protobuf.types.packed as Record<string, number>)[field.type] !== undefined;
  return packable ? [basic, WIRE.DELIMITED] : [basic];
}

const accepted = new WeakMap<protobuf.Field, readonly number[]>();

function accepts(field: protobuf.Field, wireType: number): boolean {
  let types = accepted.get(field);
  if (!types) accepted.set(field, (types = wireTypesOf(field)));
  return types.includes(wireType);
}

/** Walks the fields of one message that ends exactly at `end`. */
function walk(cursor: Cursor, end: number, type: protobuf.Type): void {
  while (cursor.pos < end) {
    const tag = cursor.varint(end);
    const wireType = tag & 7;
    const id = tag >>> 3;
    if (id === 0) throw new Error('field number 0');
    const field = type.fieldsById[id];
    if (field && !accepts(field, wireType)) throw new Error(`${type.name}.${field.name} with wire type ${wireType}`);
    switch (wireType) {
      case WIRE.VARINT: varint(cursor, end, field); break;
      case WIRE.FIXED64: cursor.skip(8, end); break;
      case WIRE.FIXED32: cursor.skip(4, end); break;
      case WIRE.DELIMITED: delimited(cursor, end, field); break;
      default: throw new Error(`wire type ${wireType}`);
    }
  }
}

function varint(cursor: Cursor, end: number, field: protobuf.Field | undefined): void {
  if (field?.type !== 'uint64') cursor.varint(end);
  else if (cursor.varint64(end) > Number.MAX_SAFE_INTEGER) throw new Error(`${field.name} past 2^53 - 1`);
}

function delimited(cursor: Cursor, end: number, field: protobuf.Field | undefined): void {
  const length = cursor.varint(end);
  const stop = cursor.pos + length;
  if (stop > end) throw new Error('length runs past the end of its message');
  if (field?.resolvedType instanceof protobuf.Type) walk(cursor, stop, field.resolvedType);
  else cursor.pos = stop;
}

/** Throws, saying why, unless `body` is a well-formed encoding of `type`. */
export function checkWireFormat(body: Uint8Array, type: protobuf.Type): void {
  walk(new Cursor(body), body.length, type);
}
