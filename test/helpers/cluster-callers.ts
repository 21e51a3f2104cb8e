/**
 * Callers for the heavy cluster tests (crash, chaos): loops that send `/client/NAME/cat//...`
 * through chosen gateways and record every outcome, with its start and end times, so that a test
 * can judge each request against what happened to the nodes meanwhile.
 */

/** rp-server's default --connect-wait-ms: how long a request waits for a name nobody holds. */
export const CONNECT_WAIT_MS = 2_000;
/** The forwarder's wait past the deadline before a silent holder counts as lost (cluster HOLDER_SLACK_MS). */
export const HOLDER_SLACK_MS = 2_000;

/**
 * The longest a request with this deadline may take on a cluster node: the wait for a name
 * nobody holds, then a forward to a holder that is lost meanwhile, plus scheduling slack.
 */
export function requestBoundMs(deadlineMs: number, slackMs = 1_500): number {
  return CONNECT_WAIT_MS + deadlineMs + HOLDER_SLACK_MS + slackMs;
}

/** One request and how it ended: an HTTP status, 'hang' (our abort fired), or 'error' (no answer at all). */
export interface CallRecord {
  readonly name: string;
  readonly via: number;
  readonly start: number;
  readonly end: number;
  readonly status: number | 'hang' | 'error';
  /** The exception envelope's code, or the fetch error's message. */
  readonly detail: string;
}

export interface CallOptions {
  /** X-Event-Timeout-Ms. */
  deadlineMs: number;
  /** Abort past this: well above every bound the node should keep, to catch a hang. */
  hangMs: number;
}

/** One request to `name` through `gateway`, never throwing. Times are performance.now(). */
export async function callClient(gateway: string, via: number, name: string, options: CallOptions): Promise<CallRecord> {
  const start = performance.now();
  const tag = Math.random().toString(36).slice(2, 8);
  try {
    const response = await fetch(`${gateway}/client/${encodeURIComponent(name)}/cat//${tag}`, {
      headers: { 'x-event-timeout-ms': String(options.deadlineMs) },
      signal: AbortSignal.timeout(options.hangMs),
    });
    const text = await response.text();
    let detail = '';
    if (response.status === 200) {
      if (!text.includes(tag)) detail = `wrong body: ${text.slice(0, 120)}`;
    } else {
      try {
        detail = (JSON.parse(text) as { exception?: { code?: string } }).exception?.code ?? text.slice(0, 120);
      } catch {
        detail = text.slice(0, 120);
      }
    }
    return { name, via, start, end: performance.now(), status: detail.startsWith('wrong body') ? 'error' : response.status, detail };
  } catch (error) {
    const timedOut = (error as Error).name === 'TimeoutError';
    return { name, via, start, end: performance.now(), status: timedOut ? 'hang' : 'error', detail: (error as Error).message };
  }
}

/** A target for the next request, or undefined to pause a little. */
export type Pick = () => { gateway: string; via: number; name: string } | undefined;

/** `count` loops, each sending one request at a time (with `pauseMs` between) until stop(). */
export class CallerLoops {
  readonly records: CallRecord[] = [];
  #running = true;
  readonly #loops: Array<Promise<void>> = [];

  constructor(count: number, pick: Pick, options: CallOptions & { pauseMs?: number }) {
    for (let i = 0; i < count; i += 1) this.#loops.push(this.#loop(pick, options));
  }

  async #loop(pick: Pick, options: CallOptions & { pauseMs?: number }): Promise<void> {
    while (this.#running) {
      const target = pick();
      if (target) this.records.push(await callClient(target.gateway, target.via, target.name, options));
      await new Promise((r) => setTimeout(r, target ? (options.pauseMs ?? 5) : 50));
    }
  }

  /** Stops after the requests in flight end. */
  async stop(): Promise<CallRecord[]> {
    this.#running = false;
    await Promise.all(this.#loops);
    return this.records;
  }
}

/** Counts by status: `{"200": 812, "503": 14}`. */
export function countByStatus(records: readonly CallRecord[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const record of records) counts[String(record.status)] = (counts[String(record.status)] ?? 0) + 1;
  return counts;
}

/** A short line per record, for a failing assertion's message. */
export function describeRecords(records: readonly CallRecord[], t0 = 0, max = 20): string {
  return records.slice(0, max).map((r) => `${r.name} via n${r.via} at +${Math.round(r.start - t0)} ms took ${Math.round(r.end - r.start)} ms: ${r.status} ${r.detail}`).join('\n');
}

/** The longest a record took, in ms. */
export function longest(records: readonly CallRecord[]): number {
  return Math.round(Math.max(0, ...records.map((r) => r.end - r.start)));
}
