import type { EventShape } from '@restpipe/core';
import { flatText } from './flat-text.js';
import { Rates } from './rates.js';
import { Ring } from './ring.js';

/** One event of `/_rp/events` (SPEC §13). */
export interface CallEntry {
  at: string;
  direction: 'in' | 'out';
  peer: string;
  requestId: string;
  verb: string;
  noun: string;
  handler: string;
  status: number;
  returnCode: number | null;
  durationMs: number;
  bytesIn: number;
  bytesOut: number;
  /** A failure's message (cut to 256 characters); null for a success. */
  error: string | null;
}

/** What an event's diagnostics message gives the log; `returnCode` is absent for a failure here. */
export interface CallFacts extends EventShape {
  peer: string;
  requestId: string;
  handlerName: string;
  returnCode?: number | undefined;
  ms: number;
}

export const CALL_LOG_SIZE = 1000;
/** A noun, verb, handler or request id longer than this (a hostile peer's) is kept cut. */
export const MAX_CALL_TEXT = 256;

/** Kept as it came, with the time: the ISO string and rounding are made only when someone reads. */
interface Record {
  atMs: number;
  direction: 'in' | 'out';
  facts: CallFacts;
  failed: boolean;
}

/**
 * The last 1000 events sent or handled here, and their rates. Recording one keeps a
 * reference to the message core already made: one small object and a ring store.
 */
export class CallLog {
  readonly #ring = new Ring<Record>(CALL_LOG_SIZE);
  readonly rates: Rates;

  constructor(private readonly now: () => number = Date.now) {
    this.rates = new Rates(now);
  }

  get lastSeq(): number {
    return this.#ring.lastSeq;
  }

  add(direction: 'in' | 'out', facts: CallFacts, failed: boolean): void {
    const atMs = this.now();
    // A peer picks the noun (and, in a frame, the verb): 1000 of 4 MB each must not stay in memory.
    if (tooLong(facts)) facts = cut(facts);
    this.#ring.add({ atMs, direction, facts, failed });
    this.rates.add(facts.ms, failed, atMs);
  }

  /** Newest first. */
  newest(limit: number): CallEntry[] {
    return this.#ring.newest(limit).map(({ item }) => entryOf(item));
  }

  /** Newest first, each with its seq: what a live page has not seen yet. */
  since(seq: number, limit?: number): Array<CallEntry & { seq: number }> {
    return this.#ring.since(seq, limit).map(({ seq: n, item }) => ({ ...entryOf(item), seq: n }));
  }
}

function tooLong({ noun, verb, handlerName, requestId, error }: CallFacts): boolean {
  return noun.length > MAX_CALL_TEXT || verb.length > MAX_CALL_TEXT || handlerName.length > MAX_CALL_TEXT
    || requestId.length > MAX_CALL_TEXT || (error !== undefined && error.length > MAX_CALL_TEXT);
}

/** Its texts cut, each a copy of its own (see flatText). */
function cut(facts: CallFacts): CallFacts {
  const { noun, verb, handlerName, requestId, error } = facts;
  return {
    ...facts, noun: flatText(noun, MAX_CALL_TEXT), verb: flatText(verb, MAX_CALL_TEXT), handlerName: flatText(handlerName, MAX_CALL_TEXT),
    requestId: flatText(requestId, MAX_CALL_TEXT), error: error === undefined ? undefined : flatText(error, MAX_CALL_TEXT),
  };
}

function entryOf({ atMs, direction, facts }: Record): CallEntry {
  return {
    at: new Date(atMs).toISOString(),
    direction,
    peer: facts.peer,
    requestId: facts.requestId,
    verb: facts.verb,
    noun: facts.noun,
    handler: facts.handlerName,
    status: facts.status,
    returnCode: facts.returnCode ?? null,
    durationMs: Math.round(facts.ms * 1000) / 1000,
    bytesIn: facts.bytesIn,
    bytesOut: facts.bytesOut,
    error: facts.error ?? null,
  };
}
