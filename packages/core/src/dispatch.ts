import { InvalidPathError } from '@restpipe/wire';
import { VERBS, type Verb } from './api-types.js';
import { HANDLER_BASE, type EventHandler } from './event-handler.js';

/** One noun segment: a letter, then letters, digits or `_`. */
export const NOUN_SEGMENT = /^[A-Za-z][A-Za-z0-9_]*$/;

export function isVerb(value: string): value is Verb {
  return (VERBS as readonly string[]).includes(value);
}

/** Throws InvalidPathError unless every segment is allowed and there is at least one. */
export function validateNoun(noun: readonly string[]): void {
  if (noun.length === 0) throw new InvalidPathError('the path names no event');
  for (const segment of noun) {
    if (typeof segment !== 'string' || !NOUN_SEGMENT.test(segment)) {
      throw new InvalidPathError(`invalid path segment ${typeof segment === 'string' ? JSON.stringify(segment) : `of type ${typeof segment}`}`);
    }
  }
}

/** `get` + `['time', 'utc']` -> `get_time_utc`: the one rule for a handler's method name. */
export function handlerMethodName(verb: string, noun: readonly string[]): string {
  return `${verb}_${noun.join('_')}`;
}

export type HandlerMethod = (...args: unknown[]) => unknown;

/**
 * Finds a method the user's class itself defines. Never anything from
 * EventHandler.prototype, Object.prototype, or a `_`-prefixed name.
 */
export function findHandlerMethod(handler: EventHandler, name: string): HandlerMethod | undefined {
  let found = methodCache.get(handler);
  const cached = found?.get(name);
  if (cached) return cached;
  const method = lookUp(handler, name);
  // Only hits are kept: a peer naming endless missing methods must not grow the cache.
  if (method) {
    if (!found) methodCache.set(handler, (found = new Map()));
    found.set(name, method);
  }
  return method;
}

/** Methods found so far, per handler instance: the prototype walk runs once per name. */
const methodCache = new WeakMap<EventHandler, Map<string, HandlerMethod>>();

function lookUp(handler: EventHandler, name: string): HandlerMethod | undefined {
  if (name.startsWith('_') || name === 'constructor') return undefined;
  for (let owner: object | null = handler; owner; owner = Object.getPrototypeOf(owner)) {
    if (owner === Object.prototype || Object.hasOwn(owner, HANDLER_BASE)) return undefined;
    const descriptor = Object.getOwnPropertyDescriptor(owner, name);
    if (descriptor) return typeof descriptor.value === 'function' ? (descriptor.value as HandlerMethod) : undefined;
  }
  return undefined;
}
