import { InvalidSignatureError } from '@restpipe/errors';
import { serializeInnerList, type Parameters } from 'structured-headers';

/**
 * The RFC 9421 signature base (§2.5): one line per covered component,
 * `"NAME": VALUE`, then `"@signature-params": PARAMS`. What both ends MAC.
 *
 * Covered components we can derive: `@method`, `@path`, `@query`, `@authority`, and
 * HTTP fields by their lowercase name, without component parameters (`;sf`, `;req`,
 * ... are refused): enough for SPEC §10 and for RFC 9421's own HMAC example (B.2.5).
 */

/** A request as the signature base reads it. */
export interface BaseMessage {
  /** The method, as sent. */
  readonly method: string;
  /** The request target as on the wire: a path with its query (`/a/b?x=1`), or an absolute URL. */
  readonly target: string;
  /** A field's value (its lines joined by `, `), by lowercase name; undefined when absent. */
  header(name: string): string | undefined;
}

export const DERIVED_COMPONENTS: ReadonlySet<string> = new Set(['@method', '@path', '@query', '@authority']);
/** A field name as a component identifier: a lowercase token (RFC 9110 §5.1). */
const FIELD_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const ABSOLUTE_URL = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/** `@path` and `@query` of a request target, as RFC 9421 §2.2.6 and §2.2.7 define them. */
export function pathAndQuery(target: string): { path: string; query: string } {
  // An absolute-form target (`GET http://host/p HTTP/1.1`) carries its authority: drop it.
  const origin = ABSOLUTE_URL.exec(target);
  const rest = origin ? target.slice(origin[0].length) : target;
  const end = rest.indexOf('#');
  const withoutFragment = end < 0 ? rest : rest.slice(0, end);
  const mark = withoutFragment.indexOf('?');
  const path = mark < 0 ? withoutFragment : withoutFragment.slice(0, mark);
  // An empty path is `/`; an absent (or empty) query is `?` alone.
  return { path: path === '' ? '/' : path, query: mark < 0 ? '?' : withoutFragment.slice(mark) };
}

/** Whether `name` can be a covered component here. */
export function isSupportedComponent(name: string): boolean {
  return DERIVED_COMPONENTS.has(name) || (FIELD_NAME.test(name) && name !== '@signature-params');
}

/** The value of one covered component of `message`; throws InvalidSignatureError when it has none. */
export function componentValue(name: string, message: BaseMessage): string {
  switch (name) {
    case '@method':
      return message.method;
    case '@path':
      return pathAndQuery(message.target).path;
    case '@query':
      return pathAndQuery(message.target).query;
    case '@authority': {
      const host = message.header('host');
      if (host === undefined) throw new InvalidSignatureError('the signature covers @authority, but the request has no Host header');
      return host.trim().toLowerCase();
    }
    default:
      return fieldValue(name, message);
  }
}

function fieldValue(name: string, message: BaseMessage): string {
  const value = message.header(name);
  if (value === undefined) throw new InvalidSignatureError(`the signature covers ${name}, but the request has no such header`);
  // RFC 9421 §2.1: leading and trailing whitespace removed; obsolete line folding becomes a space.
  return value.trim().replace(/\r?\n[ \t]*/g, ' ');
}

/** The `@signature-params` value: the covered components as an inner list, with `params`. */
export function signatureParams(components: readonly string[], params: Parameters): string {
  return serializeInnerList([components.map((name) => [name, new Map()]), params]);
}

/** The signature base of `message` for `components`, ending with `paramsValue` (see signatureParams). */
export function signatureBase(components: readonly string[], paramsValue: string, message: BaseMessage): string {
  const lines = components.map((name) => `"${name}": ${componentValue(name, message)}`);
  lines.push(`"@signature-params": ${paramsValue}`);
  return lines.join('\n');
}
