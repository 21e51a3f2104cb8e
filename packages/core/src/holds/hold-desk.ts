/**
 * The holding node's side of SPEC §9. An event whose `authorize` returned `hold()` is kept
 * durably as a pending hold and answered HELD; a person approves or denies it on the
 * gateway, or it expires. Its outcome (the handler's reply after an approval, or a 403) is
 * kept with it, and the sender's job is told (HoldNotice) so that it comes to fetch it:
 * at once when the peer is connected, else at its next connect, until it has.
 *
 * Exactly-once: an approval is on disk before the handler runs; a node that dies while it
 * runs never runs it again (the outcome is IndeterminateError).
 */
import {
  HoldDecidedError,
  HoldDeniedError,
  HoldDigestMismatchError,
  HoldExpiredError,
  IndeterminateError,
  StoreError,
  UnknownHoldError,
  type EventFrame,
} from '@restpipe/wire';
import { requestFingerprint, type Hold, type HoldInfo, type HoldStatus, type Store } from '@restpipe/store';
import type { EventContext, HoldView, Peer } from '../api-types.js';
import { diagnostics, publish } from '../diagnostics.js';
import type { EventHandler } from '../event-handler.js';
import { exceptionReply } from '../handle-event.js';
import type { Logger } from '../logger.js';
import { checkReplyBytes } from '../wire-values.js';
import { heldReply } from './held-reply.js';
import type { HoldPort, HoldReply } from './hold-port.js';
import type { HoldRequest } from './hold-request.js';
import { holdView } from './hold-view.js';
import { HoldRun, resultOf, type HoldRunHost } from './hold-run.js';

/** `restpipe:hold`: one transition of a hold. `status` `pending` is its creation. */
export interface HoldMessage {
  owner: object;
  hold: string;
  status: HoldStatus;
  decidedBy: string | null;
  peer: string;
  verb: string;
  noun: string;
  requestId: string;
  reason: string | null;
}

/** What a person's decision may carry (`POST /_rp/holds/ID/approve|deny`). */
export interface HoldDecision {
  readonly reason?: string | undefined;
  /** When given, the decision applies only if it is the held event's digest. */
  readonly digest?: string | undefined;
}

export interface HoldDeskInit extends HoldRunHost {
  readonly store: Store;
  readonly handler: EventHandler;
  readonly logger: Logger;
  readonly owner: object;
  readonly exposeTracebacks: boolean;
  /** Sends HoldNotice to `peer` if it is connected and takes holds; false when not. */
  notify(peer: string, hold: string): boolean;
}

const NOTICES_PER_CONNECT = 1_000;
const MAX_TIMER_MS = 2_147_483_647;
/** After a failed store write in the timer, how long before it is tried again. */
const TROUBLE_PAUSE_MS = 1_000;

export class HoldDesk implements HoldPort {
  readonly #init: HoldDeskInit;
  readonly #run: HoldRun;
  /** Holds a decision is being made on now: a second one is 409 at once. */
  readonly #deciding = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #closed = false;

  constructor(init: HoldDeskInit) {
    this.#init = init;
    this.#run = new HoldRun(init);
  }

  /** Outcomes for the approvals that were running when the node died; onHold for holds it never announced. */
  async start(): Promise<void> {
    const recovered = await this.#store.holds.recoverRunning(resultOf(new IndeterminateError(
      'the node stopped while the approved handler was running: it may or may not have had its effect, and it is not run again',
    ), false));
    if (recovered.length > 0) this.#init.logger.warn({ holds: recovered.length }, 'approved holds whose handler was running at the last stop end IndeterminateError');
    for (const info of this.#store.holds.unannounced(NOTICES_PER_CONNECT)) {
      const hold = this.#store.holds.get(info.id);
      if (hold) void this.#announce(hold, this.#run.contextOf(hold));
    }
    await this.#expireDue();
  }

  close(): void {
    this.#closed = true;
    this.#run.close();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  // ---- the pipe's side: HoldPort ----------------------------------------

  async make(event: EventFrame, peer: Peer, request: HoldRequest, ctx: EventContext): Promise<HoldReply> {
    let hold: Hold;
    try {
      hold = await this.#store.holds.create({
        peer: peer.name, verb: event.verb, noun: event.noun, args: event.args, query: event.query, mimeType: event.mimeType,
        body: event.data, requestId: event.requestId, timeoutMs: event.timeoutMs, idempotencyKey: event.idempotencyKey,
        attempt: event.attempt || 1, digest: digestOf(event), reason: request.reason, ttlMs: request.ttlMs,
      }, (info) => storedHeld(info));
    } catch (error) {
      return this.#refused(error instanceof StoreError ? error : new StoreError(`the hold could not be kept: ${(error as Error).message}`));
    }
    this.#transition(hold, null);
    this.#arm();
    void this.#announce(hold, ctx);
    return heldReply(heldOf(hold));
  }

  async collect(holdId: string, peer: string, maxReplyBytes: number | undefined): Promise<HoldReply> {
    const hold = this.#open() ? this.#store.holds.get(holdId) : undefined;
    if (!hold || hold.peer !== peer) return this.#refused(new UnknownHoldError(`no hold ${holdId} for ${peer} on this node`));
    if (!hold.result) return heldReply(heldOf(hold));
    const data = hold.resultBody ?? Buffer.alloc(0);
    try {
      checkReplyBytes(data.length, maxReplyBytes);
    } catch (error) {
      return this.#refused(error as Error);
    }
    this.#store.holds.markCollected(hold.id).catch((error: unknown) => this.#trouble('mark a hold collected', error));
    const { kind, status, returnCode, mimeType } = hold.result;
    return { kind: kind as HoldReply['kind'], status, returnCode, mimeType, data };
  }

  /** A peer connected: tell it of every outcome it has not fetched yet. */
  peerConnected(peer: string): void {
    if (!this.#open()) return;
    for (const id of this.#store.holds.uncollected(peer, NOTICES_PER_CONNECT)) {
      if (!this.#init.notify(peer, id)) return;
    }
  }

  // ---- the gateway's side ------------------------------------------------

  list(status: HoldStatus | undefined, limit: number): HoldView[] {
    this.#checkOpen();
    return this.#store.holds.list(status === undefined ? { limit } : { status, limit }).map(holdView);
  }

  view(id: string): HoldView {
    this.#checkOpen();
    const info = this.#store.holds.info(id);
    if (!info) throw new UnknownHoldError(`no hold ${id}`);
    return holdView(info);
  }

  /** `authResponse` (false denies), then the approval on disk, then the handler, in the background. */
  async approve(id: string, by: string, decision: HoldDecision = {}): Promise<HoldView> {
    return this.#deciding1(id, decision, async (hold) => {
      const ctx = this.#run.contextOf(hold);
      const refusal = await this.#run.authResponse(ctx, holdView(hold));
      if (refusal !== undefined) return this.#deny(hold, by, decision.reason ?? refusal);
      const approved = await this.#store.holds.approve(id, by, decision.reason ?? null);
      if (!approved) throw this.#alreadyDecided(id);
      this.#transition(approved, by);
      void this.#perform(approved);
      return holdView(approved);
    });
  }

  async deny(id: string, by: string, decision: HoldDecision = {}): Promise<HoldView> {
    return this.#deciding1(id, decision, (hold) => this.#deny(hold, by, decision.reason ?? null));
  }

  // ---- inside ---------------------------------------------------------------

  get #store(): Store {
    return this.#init.store;
  }

  #open(): boolean {
    return !this.#closed && !this.#store.closed;
  }

  #checkOpen(): void {
    if (!this.#open()) throw new StoreError('the node is shutting down: its store is closed');
  }

  /** One decision at a time per hold, on a pending hold whose digest is the one named. */
  async #deciding1(id: string, decision: HoldDecision, decide: (hold: Hold) => Promise<HoldView>): Promise<HoldView> {
    this.#checkOpen();
    const hold = this.#store.holds.get(id);
    if (!hold) throw new UnknownHoldError(`no hold ${id}`);
    if (decision.digest !== undefined && decision.digest !== hold.digest) {
      throw new HoldDigestMismatchError(`hold ${id} is for an event of another digest: this decision was meant for another event`);
    }
    if (hold.status !== 'pending') throw this.#alreadyDecided(id);
    if (hold.expiresAt <= Date.now()) {
      await this.#expireDue();
      throw this.#alreadyDecided(id);
    }
    if (this.#deciding.has(id)) throw new HoldDecidedError(`a decision on hold ${id} is being made`);
    this.#deciding.add(id);
    try {
      return await decide(hold);
    } finally {
      this.#deciding.delete(id);
    }
  }

  #alreadyDecided(id: string): HoldDecidedError {
    const now = this.#store.holds.info(id);
    return new HoldDecidedError(`hold ${id} is already ${now?.status ?? 'decided'}${now?.decidedBy ? ` (by ${now.decidedBy})` : ''}`);
  }

  async #deny(hold: Hold, by: string, reason: string | null): Promise<HoldView> {
    const error = new HoldDeniedError(`denied by ${by}${reason ? `: ${reason}` : ''}`);
    const denied = await this.#store.holds.deny(hold.id, by, reason, resultOf(error, this.#init.exposeTracebacks));
    if (!denied) throw this.#alreadyDecided(hold.id);
    this.#transition(denied, by);
    this.#init.notify(denied.peer, denied.id);
    return holdView(denied);
  }

  /** Runs the approved handler and keeps its reply as the hold's outcome; then tells the sender. */
  async #perform(hold: Hold): Promise<void> {
    const outcome = await this.#run.perform(hold);
    if (!this.#open()) return; // the store closed meanwhile: the next start makes it IndeterminateError
    try {
      const done = await this.#store.holds.setOutcome(hold.id, outcome);
      if (done) this.#init.notify(done.peer, done.id);
    } catch (error) {
      this.#init.logger.error({ hold: hold.id, err: (error as Error)?.message ?? String(error) }, 'the outcome of an approved hold could not be kept; the next start makes it IndeterminateError');
    }
  }

  /** `onHold`, once: marked when it returned, so that a node that died before is announced again at start. */
  async #announce(hold: Hold, ctx: EventContext): Promise<void> {
    await this.#run.onHold(holdView(hold), ctx);
    if (!this.#open()) return;
    this.#store.holds.markAnnounced(hold.id).catch((error: unknown) => this.#trouble('mark a hold announced', error));
  }

  #transition(hold: HoldInfo, decidedBy: string | null): void {
    if (!diagnostics.hold.hasSubscribers) return;
    const message: HoldMessage = {
      owner: this.#init.owner, hold: hold.id, status: hold.status, decidedBy, peer: hold.peer, verb: hold.verb,
      noun: hold.noun.join('/'), requestId: hold.requestId, reason: hold.status === 'pending' ? hold.reason : hold.decisionReason,
    };
    publish(diagnostics.hold, message);
  }

  async #expireDue(): Promise<void> {
    if (!this.#open()) return;
    let ended: HoldInfo[];
    try {
      ended = await this.#store.holds.expire(Date.now(), resultOf(new HoldExpiredError('nobody decided on the held event before its hold expired'), false));
    } catch (error) {
      this.#trouble('expire holds', error);
      return;
    }
    for (const info of ended) {
      this.#transition(info, null);
      this.#init.notify(info.peer, info.id);
    }
    this.#arm();
  }

  /** One timer, for the earliest expiry of a pending hold. */
  #arm(at = this.#open() ? (this.#store.holds.nextExpiryAt() ?? Infinity) : Infinity): void {
    if (at === this.#timerAt && this.#timer) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = at;
    if (at === Infinity || !this.#open()) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      void this.#expireDue();
    }, Math.min(Math.max(at - Date.now(), 0), MAX_TIMER_MS));
    this.#timer.unref();
  }

  #trouble(what: string, error: unknown): void {
    if (!this.#open()) return;
    this.#init.logger.error({ err: (error as Error)?.message ?? String(error) }, `holds: could not ${what}`);
    if (what === 'expire holds') this.#arm(Date.now() + TROUBLE_PAUSE_MS);
  }

  #refused(error: Error): HoldReply {
    return exceptionReply(error, this.#init.exposeTracebacks);
  }
}

/** SPEC §9's digest: sha256 of the verb, noun, args, query and body, as idempotency keys compare requests. */
export function digestOf(event: EventFrame): string {
  return requestFingerprint({ verb: event.verb, noun: event.noun, args: event.args, query: event.query, body: event.data });
}

function heldOf(hold: HoldInfo): { hold: string; reason: string; expiresAt: string } {
  return { hold: hold.id, reason: hold.reason, expiresAt: new Date(hold.expiresAt).toISOString() };
}

/** The HELD reply, as the idempotency record keeps it for a repeat of the event's key. */
function storedHeld(info: HoldInfo) {
  const reply = heldReply(heldOf(info));
  return { kind: reply.kind, status: reply.status, returnCode: reply.returnCode, mimeType: reply.mimeType, body: reply.data };
}


