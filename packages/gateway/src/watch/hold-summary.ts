import type { HoldView } from '@restpipe/core';

/** Longest text of a hold a tick carries; `GET /_rp/holds/ID` has the whole of it. */
const MAX_TEXT = 256;
/** The JSON a tick spends on one hold's args, and on its query, at most. */
const MAX_PART_JSON = 2048;

/**
 * A hold as a tick carries it: what a row and its buttons need, each text cut to 256
 * characters, args and query within 2 KiB of JSON each, without its history; `truncated`
 * says something was left out (the page then says so beside Approve). A tick goes out every
 * second to every page, so the bytes a peer put in a held event must not go with it.
 */
export function holdSummary(hold: HoldView): object {
  let truncated = false;
  const cut = (text: string): string => {
    if (text.length <= MAX_TEXT) return text;
    truncated = true;
    return `${text.slice(0, MAX_TEXT)}…`;
  };
  const within = <T>(items: T[]): T[] => {
    const kept: T[] = [];
    let spent = 2;
    for (const item of items) {
      spent += JSON.stringify(item).length + 1;
      if (spent > MAX_PART_JSON) {
        truncated = true;
        break;
      }
      kept.push(item);
    }
    return kept;
  };
  const args = within(hold.args.map(cut));
  const query = Object.fromEntries(within(Object.entries(hold.query).map(([key, value]) => [cut(key), Array.isArray(value) ? value.map(cut) : cut(String(value))] as const)));
  const { history: _history, ...rest } = hold;
  return {
    ...rest, noun: cut(hold.noun), args, query, reason: cut(hold.reason), decisionReason: hold.decisionReason === null ? null : cut(hold.decisionReason),
    peer: cut(hold.peer), truncated,
  };
}
