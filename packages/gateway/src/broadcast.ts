import { essence, InvalidRequestError, isJsonMime, isTextMime, type BroadcastOutcome, type PipeRequest } from '@restpipe/core';
import { viewOf } from './http-errors.js';

/** `/client/*` on the server's gateway: every connected client of the cluster (SPEC §11). */
export const BROADCAST_TARGET = '*';

export type Broadcast = (request: PipeRequest) => Promise<BroadcastOutcome[]>;

/** One client's part of a broadcast's answer. */
export interface BroadcastEntry {
  status: number;
  /** As `X-Event-Return-Code` would be; null where §4 gives none (the gateway's own failures). */
  returnCode: number | null;
  mimeType: string;
  body: unknown;
  encoding?: 'base64';
}

/** A broadcast's 200 body: `{"count":N,"results":{"NAME":{...}}}`, names in order. */
export function broadcastBody(outcomes: readonly BroadcastOutcome[], exposeTracebacks: boolean): { count: number; results: Record<string, BroadcastEntry> } {
  const results: Record<string, BroadcastEntry> = Object.create(null) as Record<string, BroadcastEntry>;
  for (const outcome of [...outcomes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    results[outcome.name] = outcome.response
      ? { status: outcome.response.held ? 202 : 200, returnCode: outcome.response.returnCode, ...bodyEntry(outcome.response.mimeType, outcome.response.raw) }
      : failureEntry(outcome.error, exposeTracebacks);
  }
  return { count: Object.keys(results).length, results };
}

function failureEntry(error: unknown, exposeTracebacks: boolean): BroadcastEntry {
  const view = viewOf(error, exposeTracebacks);
  return { status: view.status, returnCode: view.returnCode ?? null, mimeType: 'application/json', body: view.envelope };
}

/** A body as JSON where it is JSON, text where it is text, else base64. */
function bodyEntry(mimeType: string, raw: Buffer): Pick<BroadcastEntry, 'mimeType' | 'body' | 'encoding'> {
  if (raw.length === 0) return { mimeType, body: null };
  if (isJsonMime(mimeType)) {
    try {
      return { mimeType, body: JSON.parse(raw.toString('utf8')) as unknown };
    } catch {
      // Not JSON after all: base64 below.
    }
  }
  if (isTextMime(essence(mimeType))) {
    const text = raw.toString('utf8');
    if (!text.includes('\uFFFD')) return { mimeType, body: text };
  }
  return { mimeType, body: raw.toString('base64'), encoding: 'base64' };
}

/** What a broadcast cannot be: a durable job, or a request run once per key. */
export function checkBroadcast(respondAsync: boolean, idempotencyKey: string | undefined): void {
  if (respondAsync) throw new InvalidRequestError('a broadcast (/client/*/...) cannot be a job: drop Prefer: respond-async');
  if (idempotencyKey !== undefined) throw new InvalidRequestError('a broadcast (/client/*/...) takes no Idempotency-Key');
}
