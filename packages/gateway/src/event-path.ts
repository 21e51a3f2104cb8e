import { NAME_PATTERN } from '@restpipe/certs/names';
import { InvalidPathError, validateNoun, type QueryValues } from '@restpipe/core';

/** What a gateway URL asks for, before anything is sent. */
export interface EventPath {
  /** Client name, on the server's gateway only. */
  target: string | undefined;
  noun: string[];
  args: string[];
  /** Absent when the URL has no query string. */
  query: QueryValues | undefined;
}

/**
 * Parses the raw request URL after its prefix (`/server/` or `/client/`):
 * `[NAME/]NOUN[//ARGS][?QUERY]`. The noun is checked undecoded, so `%2e` and
 * friends never pass; each arg is percent-decoded on its own.
 */
export function parseEventPath(rawUrl: string, prefix: string, withTarget: boolean): EventPath {
  const q = rawUrl.indexOf('?');
  const path = q < 0 ? rawUrl : rawUrl.slice(0, q);
  if (!path.startsWith(prefix)) throw new InvalidPathError(`path must start with ${prefix}`);
  let rest = path.slice(prefix.length);
  let target: string | undefined;
  if (withTarget) {
    const slash = rest.indexOf('/');
    target = slash < 0 ? rest : rest.slice(0, slash);
    // `*` is every client (SPEC §11 broadcast); the route decides what it may do.
    if (target !== '*' && !NAME_PATTERN.test(target)) throw new InvalidPathError(`invalid client name ${JSON.stringify(target)}`);
    rest = slash < 0 ? '' : rest.slice(slash + 1);
  }
  const split = rest.indexOf('//');
  const noun = (split < 0 ? rest : rest.slice(0, split)).split('/');
  validateNoun(noun);
  const args = split < 0 ? [] : rest.slice(split + 2).split('/').map(decodeArg);
  return { target, noun, args, query: parseQuery(q < 0 ? '' : rawUrl.slice(q + 1)) };
}

function decodeArg(arg: string): string {
  try {
    return decodeURIComponent(arg);
  } catch {
    throw new InvalidPathError(`argument ${JSON.stringify(arg)} is not valid percent-encoding`);
  }
}

/** `a=1&a=2&b=x` -> `{ a: ['1', '2'], b: 'x' }`. */
export function parseQuery(queryString: string): QueryValues | undefined {
  if (queryString.length === 0) return undefined;
  const query: QueryValues = Object.create(null) as QueryValues;
  for (const [key, value] of new URLSearchParams(queryString)) {
    const seen = query[key];
    // Appended in place: a copy per repeat is quadratic in a query of one key repeated.
    if (seen === undefined) query[key] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else query[key] = [seen, value];
  }
  return query;
}
