import { InvalidRequestError } from '@restpipe/core';

export const DEFAULT_LIST_LIMIT = 100;
export const MAX_LIST_LIMIT = 1_000;

/** A query parameter given at most once. */
export function singleQueryValue(query: Record<string, string | string[]>, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) throw new InvalidRequestError(`give ${name} once`);
  return value;
}

/** `limit`, from 1 to MAX_LIST_LIMIT; DEFAULT_LIST_LIMIT when absent. */
export function listLimitOf(query: Record<string, string | string[]>): number {
  const limitText = singleQueryValue(query, 'limit');
  const limit = limitText === undefined ? DEFAULT_LIST_LIMIT : /^\d{1,4}$/.test(limitText) ? Number(limitText) : NaN;
  if (!(limit >= 1 && limit <= MAX_LIST_LIMIT)) throw new InvalidRequestError(`limit must be a whole number from 1 to ${MAX_LIST_LIMIT}`);
  return limit;
}

/** `?offline=1` (or `true`): the offline clients seen before are listed after the connected ones. */
export function wantsOffline(query: Record<string, string | string[]>): boolean {
  const value = singleQueryValue(query, 'offline');
  return value === '1' || value === 'true';
}
