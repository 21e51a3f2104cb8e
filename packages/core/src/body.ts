import { asBuffer, InvalidBodyError } from '@restpipe/wire';
import type { EventBody } from './api-types.js';
import { SmallBody } from './streams/bodies.js';

export const JSON_MIME = 'application/json';
export const TEXT_MIME = 'text/plain; charset=utf-8';
export const BINARY_MIME = 'application/octet-stream';

const EMPTY = Buffer.alloc(0);

/** `Text/HTML; charset=x` -> `text/html`; `''` when absent. */
export function essence(mimeType: string | undefined): string {
  if (!mimeType) return '';
  const semi = mimeType.indexOf(';');
  return (semi < 0 ? mimeType : mimeType.slice(0, semi)).trim().toLowerCase();
}

export function isJsonMime(mimeType: string): boolean {
  const e = essence(mimeType);
  return e === JSON_MIME || e.endsWith('+json');
}

export function isTextMime(mimeType: string): boolean {
  return essence(mimeType).startsWith('text/');
}

/** Parses raw bytes by media type. Throws InvalidBodyError on bad JSON. */
export function parseBody(mimeType: string, raw: Buffer): unknown {
  if (isJsonMime(mimeType)) return parseJsonBody(raw);
  if (isTextMime(mimeType)) return raw.toString('utf8');
  return raw;
}

/**
 * The JSON a body holds (`undefined` when empty), or InvalidBodyError (400): the
 * one check of a JSON body, by the receiving handler's side and by a gateway
 * before it sends anything.
 */
export function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (cause) {
    throw new InvalidBodyError(`body is not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

export function eventBody(mimeType: string, raw: Buffer): EventBody {
  return new SmallBody(essence(mimeType), raw, parseBody(mimeType, raw));
}

export interface EncodedBody {
  mimeType: string;
  data: Buffer;
}

/** Buffers stay bytes, strings become text, anything else JSON; `undefined` is empty. */
export function encodeBody(value: unknown, mimeType?: string): EncodedBody {
  if (value === undefined) return { mimeType: mimeType ?? '', data: EMPTY };
  if (value instanceof Uint8Array) return { mimeType: mimeType ?? BINARY_MIME, data: asBuffer(value) };
  if (typeof value === 'string') return { mimeType: mimeType ?? TEXT_MIME, data: Buffer.from(value) };
  return encodeJson(value, mimeType);
}

/** JSON of any value; `undefined` is an empty body. */
export function encodeJson(value: unknown, mimeType: string = JSON_MIME): EncodedBody {
  if (value === undefined) return { mimeType: '', data: EMPTY };
  return { mimeType, data: Buffer.from(JSON.stringify(value) ?? 'null') };
}
