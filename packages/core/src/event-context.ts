import type { EventFrame } from '@restpipe/wire';
import type { EventContext, Peer, PipeLink, QueryValues, Verb } from './api-types.js';
import type { LazyAbort } from './lazy-abort.js';
import { fromQueryParams } from './request.js';

/** What every event on one connection shares. */
export interface InboundEnv {
  readonly peer: Peer;
  readonly pipe: PipeLink;
}

/**
 * `ctx` for one inbound event. A class rather than an object literal with a
 * getter: one shape for every event, and `signal` and `query` cost nothing until
 * a handler reads them.
 */
export class InboundContext implements EventContext {
  readonly #env: InboundEnv;
  readonly #event: EventFrame;
  readonly #abort: LazyAbort;
  #query: QueryValues | undefined;

  constructor(env: InboundEnv, event: EventFrame, readonly verb: Verb, abort: LazyAbort) {
    this.#env = env;
    this.#event = event;
    this.#abort = abort;
  }

  get peer(): Peer {
    return this.#env.peer;
  }

  get pipe(): PipeLink {
    return this.#env.pipe;
  }

  get requestId(): string {
    return this.#event.requestId;
  }

  get noun(): readonly string[] {
    return this.#event.noun;
  }

  get args(): readonly string[] {
    return this.#event.args;
  }

  get query(): QueryValues {
    return (this.#query ??= fromQueryParams(this.#event.query));
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  get idempotencyKey(): string {
    return this.#event.idempotencyKey ?? '';
  }

  get attempt(): number {
    return this.#event.attempt || 1;
  }
}
