/**
 * Running the user's code for a hold (SPEC §9): `onHold` when it is made, `authResponse`
 * on an approval, then the handler, on the event exactly as it was held. Each is given a
 * `ctx` made from the stored event; the handler's `ctx.signal` fires at the event's own
 * deadline, or when the node closes. Never throws: a hook's failure is logged (and for
 * `authResponse`, denies).
 */
import { ClosedError, EventTimeoutError, type EventFrame, type ReplyKind } from '@restpipe/wire';
import type { Hold, JobResult } from '@restpipe/store';
import type { EventContext, HoldView } from '../api-types.js';
import { InboundContext, type InboundEnv } from '../event-context.js';
import type { EventHandler } from '../event-handler.js';
import { resultOfReply } from '../durable/job-request.js';
import { exceptionReply, handleApproved, type HandlerEnv } from '../handle-event.js';
import { LazyAbort } from '../lazy-abort.js';
import { diagnostics, publish, type HandledMessage } from '../diagnostics.js';
import { replyStatus } from '../event-shape.js';
import type { Logger } from '../logger.js';

export interface HoldRunHost {
  /** The node's PipeServer or PipeClient: an approved run is published as an event handled by it. */
  readonly owner: object;
  readonly handler: EventHandler;
  readonly logger: Logger;
  readonly exposeTracebacks: boolean;
  /** `ctx.peer` and `ctx.pipe` for a hold of `peer`: events back to it go over its connection, when it has one. */
  envFor(peer: string): InboundEnv;
}

/** What a handler that ignores its deadline is given up on after, on top of it. */
const RUN_SLACK_MS = 1_000;

export class HoldRun {
  readonly #host: HoldRunHost;
  /** Handlers running now, by their aborts: a drain waits for them, and the node's close fires them. */
  readonly #running = new Map<LazyAbort, Promise<unknown>>();

  constructor(host: HoldRunHost) {
    this.#host = host;
  }

  /** A `ctx` for the held event, as its handler would have had it. */
  contextOf(hold: Hold): InboundContext {
    return new InboundContext(this.#host.envFor(hold.peer), eventOf(hold), hold.verb as EventFrame['verb'] & EventContext['verb'], new LazyAbort());
  }

  async onHold(view: HoldView, ctx: EventContext): Promise<void> {
    const { handler, logger } = this.#host;
    if (!handler.onHold) return;
    try {
      await handler.onHold(view, ctx);
    } catch (error) {
      logger.error({ hook: 'onHold', hold: view.hold, err: (error as Error)?.message ?? String(error) }, 'handler hook failed');
    }
  }

  /** undefined: approve. Otherwise the reason the approval is turned into a denial. */
  async authResponse(ctx: EventContext, view: HoldView): Promise<string | undefined> {
    const { handler, logger } = this.#host;
    if (!handler.authResponse) return undefined;
    try {
      return (await handler.authResponse(ctx, view)) ? undefined : 'authResponse refused the approval';
    } catch (error) {
      logger.error({ hook: 'authResponse', hold: view.hold, err: (error as Error)?.message ?? String(error) }, 'handler hook failed');
      return 'authResponse failed';
    }
  }

  /** The approved handler's reply, as the sender's job will end with it. */
  perform(hold: Hold): Promise<JobResult> {
    const abort = new LazyAbort();
    const running = this.#perform(hold, abort).finally(() => this.#running.delete(abort));
    this.#running.set(abort, running);
    return running;
  }

  /** Resolves once every handler running now has ended, or after `ms`. */
  async settled(ms: number): Promise<void> {
    if (this.#running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
    await Promise.race([Promise.allSettled([...this.#running.values()]), late]);
    clearTimeout(timer);
  }

  async #perform(hold: Hold, abort: LazyAbort): Promise<JobResult> {
    const timeoutMs = hold.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<JobResult>((resolve) => {
      timer = setTimeout(() => {
        const error = new EventTimeoutError(`the approved handler did not answer within ${timeoutMs} ms`);
        abort.abort(error);
        // One second more for a handler that stops at its signal; then its answer is not awaited.
        timer = setTimeout(() => resolve(resultOf(error, this.#host.exposeTracebacks)), RUN_SLACK_MS);
      }, timeoutMs);
    });
    try {
      const env: HandlerEnv = { ...this.#host.envFor(hold.peer), handler: this.#host.handler, exposeTracebacks: this.#host.exposeTracebacks };
      const started = performance.now();
      // The name only of a method that exists (as handleEvent reports it): a peer's made-up noun never becomes a metric's.
      let handlerName = '';
      const run = Promise.resolve(handleApproved(eventOf(hold), env, abort)).then((fields) => {
        handlerName = fields.handlerName;
        return resultOfReply(fields);
      });
      const result = await Promise.race([run, deadline]);
      this.#handled(hold, result, performance.now() - started, handlerName);
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The approved handler ran here: logs, metrics and the call log hear of it as of any event handled. */
  #handled(hold: Hold, result: JobResult, ms: number, handlerName: string): void {
    if (!diagnostics.handled.hasSubscribers) return;
    publish(diagnostics.handled, {
      owner: this.#host.owner, peer: hold.peer, ms, handlerName, returnCode: result.returnCode,
      requestId: hold.requestId, failed: result.kind !== 0, verb: hold.verb, noun: hold.noun.join('/'), status: replyStatus(result.kind as ReplyKind, result.status),
      bytesIn: hold.body.length, bytesOut: result.body.length, ...(result.kind === 0 ? {} : { error: envelopeMessage(result.body) }),
    } satisfies HandledMessage);
  }

  /** The node closes: every running handler's signal fires. */
  close(): void {
    for (const abort of this.#running.keys()) abort.abort(new ClosedError('the node is closing'));
    this.#running.clear();
  }
}

/** A failure, as the sender's job will end with it. */
export function resultOf(error: Error, exposeTracebacks: boolean): JobResult {
  return resultOfReply(exceptionReply(error, exposeTracebacks));
}

/** A failure's message, from the envelope it ended with. */
function envelopeMessage(body: Uint8Array): string | undefined {
  try {
    const message = (JSON.parse(Buffer.from(body).toString('utf8')) as { exception?: { message?: unknown } }).exception?.message;
    return typeof message === 'string' ? message : undefined;
  } catch {
    return undefined;
  }
}

/** The event as it was held: the same bytes the digest was made of. */
function eventOf(hold: Hold): EventFrame {
  return {
    id: 0, verb: hold.verb, noun: [...hold.noun], args: [...hold.args], query: hold.query.map((q) => ({ key: q.key, values: [...q.values] })),
    mimeType: hold.mimeType, data: hold.body, timeoutMs: hold.timeoutMs, requestId: hold.requestId,
    ...(hold.idempotencyKey ? { idempotencyKey: hold.idempotencyKey } : {}), attempt: hold.attempt,
  };
}
