import type { HoldView } from '@restpipe/core';

/** Longest text of a hold a tick carries; `GET /_rp/holds/ID` has the whole of it. */
const MAX_TEXT = 256;
const MAX_ARGS = 16;
const MAX_QUERY_KEYS = 16;

/**
 * A hold as a tick carries it: what a row and its buttons need, each text cut to 256
 * characters (`truncated` says so), without its history. A tick goes out every second to
 * every page, so the bytes a peer put in a held event's args must not go with it.
 */
export function holdSummary(hold: HoldView): object {
  let truncated = false;
  const cut = (text: string): string => {
    if (text.length <= MAX_TEXT) return text;
    truncated = true;
    return `${text.slice(0, MAX_TEXT)}…`;
  };
  const args = hold.args.slice(0, MAX_ARGS).map(cut);
  const entries = Object.entries(hold.query);
  const query = Object.fromEntries(entries.slice(0, MAX_QUERY_KEYS).map(([key, value]) => [cut(key), Array.isArray(value) ? value.slice(0, MAX_ARGS).map(cut) : cut(String(value))]));
  if (hold.args.length > MAX_ARGS || entries.length > MAX_QUERY_KEYS) truncated = true;
  const { history: _history, ...rest } = hold;
  return {
    ...rest, noun: cut(hold.noun), args, query, reason: cut(hold.reason), decisionReason: hold.decisionReason === null ? null : cut(hold.decisionReason),
    peer: cut(hold.peer), truncated,
  };
}
