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
  IndeterminateError,
  ReplyKind,
  StoreError,
  UnknownHoldError,
  type EventFrame,
} from '@restpipe/wire';
import type { Hold, HoldInfo, HoldStatus, Store, StoredReply } from '@restpipe/store';
import { resultOfReply } from '../durable/job-request.js';
import type { EventContext, HoldView, Peer } from '../api-types.js';
import type { EventHandler } from '../event-handler.js';
import { digestOf } from '../event-fingerprint.js';
import { exceptionReply } from '../handle-event.js';
import type { Logger } from '../logger.js';
import { checkReplyBytes } from '../wire-values.js';
import { heldReply } from './held-reply.js';
import type { HoldPort, HoldReply } from './hold-port.js';
import type { HoldRequest } from './hold-request.js';
import { holdView } from './hold-view.js';
import { HoldOutcomes, type HoldMessage } from './hold-outcomes.js';
import { HoldRun, resultOf, type HoldRunHost } from './hold-run.js';

export type { HoldMessage };

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

/** Notices (and onHold calls at start) go in batches of this many. */
const BATCH = 1_000;

export class HoldDesk implements HoldPort {
  readonly #init: HoldDeskInit;
  readonly #run: HoldRun;
  readonly #ends: HoldOutcomes;
  /** Holds a decision is being made on now: a second one is 409 at once. */
  readonly #deciding = new Set<string>();
  #draining = false;
  #closed = false;

  constructor(init: HoldDeskInit) {
    this.#init = init;
    this.#run = new HoldRun(init);
    this.#ends = new HoldOutcomes(init);
  }

  /**
   * At start: approvals whose handler was running when the node died end IndeterminateError
   * (and their senders are told); onHold runs for holds it never returned for; expired holds end.
   */
  async start(): Promise<void> {
    const recovered = await this.#store.holds.recoverRunning(resultOf(new IndeterminateError(
      'the node stopped while the approved handler was running: it may or may not have had its effect, and it is not run again',
    ), false));
    if (recovered.length > 0) this.#init.logger.warn({ holds: recovered.length }, 'approved holds whose handler was running at the last stop end IndeterminateError');
    for (const info of recovered) this.#init.notify(info.peer, info.id);
    void this.#announceLeftovers();
    await this.#ends.expireDue();
  }

  /** A drain: no new decision is taken, and approved handlers running now may finish (and keep their outcomes) within `ms`. */
  async drain(ms: number): Promise<void> {
    this.#draining = true;
    await this.#run.settled(ms);
  }

  close(): void {
    this.#closed = true;
    this.#run.close();
    this.#ends.stop();
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
      // Nothing was kept and nothing ran: no outcome, so a keyed delivery may try again.
      const refusal = error instanceof StoreError ? error : new StoreError(`the hold could not be kept: ${(error as Error).message}`);
      return { ...this.#refused(refusal), transient: true };
    }
    this.#ends.transition(hold, null);
    this.#ends.arm();
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
    this.#store.holds.markCollected(hold.id).catch((error: unknown) => this.#ends.trouble('mark a hold collected', error));
    const { kind, status, returnCode, mimeType } = hold.result;
    // A stored outcome: the sender must take it as the answer, never as "busy, try again".
    return { kind: kind as HoldReply['kind'], status, returnCode, mimeType, data, replayed: true };
  }

  /** The sender cancelled the job that waited on `holdId`: a pending hold is denied, and its outcome wanted by no one. */
  async withdraw(holdId: string, peer: string): Promise<HoldReply> {
    const hold = this.#open() ? this.#store.holds.info(holdId) : undefined;
    if (!hold || hold.peer !== peer) return this.#refused(new UnknownHoldError(`no hold ${holdId} for ${peer} on this node`));
    try {
      return await this.#withdraw(hold, peer);
    } catch (error) {
      return { ...this.#refused(new StoreError(`the withdrawal could not be kept: ${(error as Error).message}`)), transient: true };
    }
  }

  async #withdraw(hold: HoldInfo, peer: string): Promise<HoldReply> {
    const holdId = hold.id;
    let status = hold.status;
    if (status === 'pending' && !this.#deciding.has(holdId)) {
      const by = `peer:${peer}`;
      const denied = await this.#store.holds.deny(holdId, by, WITHDRAWN, resultOf(new HoldDeniedError(`withdrawn: ${WITHDRAWN}`), false));
      if (denied) {
        this.#ends.transition(denied, by);
        status = denied.status;
      }
    }
    await this.#store.holds.markCollected(holdId);
    const data = Buffer.from(JSON.stringify({ hold: holdId, status }));
    return { kind: ReplyKind.VALUE, status: 200, returnCode: 0, mimeType: 'application/json', data };
  }

  /** A peer connected: tell it of every outcome it has not fetched yet, a batch at a time. */
  peerConnected(peer: string): void {
    void this.#noticesFor(peer);
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
    return this.#decideOnce(id, decision, async (hold) => {
      const ctx = this.#run.contextOf(hold);
      const refusal = await this.#run.authResponse(ctx, holdView(hold));
      if (refusal !== undefined) return this.#deny(hold, by, refusal);
      if (!this.#open() || this.#draining) throw shuttingDown();
      const approved = await this.#store.holds.approve(id, by, decision.reason ?? null);
      if (!approved) throw this.#alreadyDecided(id);
      this.#ends.transition(approved, by);
      void this.#run.perform(approved).then((outcome) => this.#ends.save(approved.id, outcome));
      return holdView(approved);
    });
  }

  async deny(id: string, by: string, decision: HoldDecision = {}): Promise<HoldView> {
    return this.#decideOnce(id, decision, (hold) => this.#deny(hold, by, decision.reason ?? null));
  }

  // ---- inside ---------------------------------------------------------------

  get #store(): Store {
    return this.#init.store;
  }

  #open(): boolean {
    return !this.#closed && !this.#store.closed;
  }

  #checkOpen(): void {
    if (!this.#open()) throw shuttingDown();
  }

  /** One decision at a time per hold, on a pending hold whose digest is the one named. */
  async #decideOnce(id: string, decision: HoldDecision, decide: (hold: Hold) => Promise<HoldView>): Promise<HoldView> {
    this.#checkOpen();
    if (this.#draining) throw shuttingDown();
    const hold = this.#store.holds.get(id);
    if (!hold) throw new UnknownHoldError(`no hold ${id}`);
    if (decision.digest !== undefined && decision.digest !== hold.digest) {
      throw new HoldDigestMismatchError(`hold ${id} is for an event of another digest: this decision was meant for another event`);
    }
    if (hold.status !== 'pending') throw this.#alreadyDecided(id);
    if (hold.expiresAt <= Date.now()) {
      await this.#ends.expireDue();
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
    this.#ends.transition(denied, by);
    this.#init.notify(denied.peer, denied.id);
    return holdView(denied);
  }

  /** `onHold`, once: marked when it returned, so that a node that died before is announced again at start. */
  async #announce(hold: Hold, ctx: EventContext): Promise<void> {
    await this.#run.onHold(holdView(hold), ctx);
    if (!this.#open()) return;
    this.#store.holds.markAnnounced(hold.id).catch((error: unknown) => this.#ends.trouble('mark a hold announced', error));
  }

  /** onHold for the pending holds an earlier run never returned from, a batch at a time. */
  async #announceLeftovers(): Promise<void> {
    let after = '';
    for (;;) {
      const batch = this.#open() ? this.#store.holds.unannounced(BATCH, after) : [];
      if (batch.length === 0) return;
      after = batch.at(-1)!.id;
      await Promise.all(batch.map((info) => {
        const hold = this.#store.holds.get(info.id);
        return hold ? this.#announce(hold, this.#run.contextOf(hold)) : undefined;
      }));
    }
  }

  async #noticesFor(peer: string): Promise<void> {
    let after = '';
    for (;;) {
      const ids = this.#open() ? this.#store.holds.uncollected(peer, BATCH, after) : [];
      if (ids.length === 0) return;
      for (const id of ids) if (!this.#init.notify(peer, id)) return;
      after = ids.at(-1)!;
      await new Promise((resolve) => setImmediate(resolve)); // a turn between batches: others are served meanwhile
    }
  }

  #refused(error: Error): HoldReply {
    return exceptionReply(error, this.#init.exposeTracebacks);
  }
}

const WITHDRAWN = 'the sender cancelled the job that waited on it';

function shuttingDown(): StoreError {
  return new StoreError('the node is shutting down: it takes no decision now');
}

function heldOf(hold: HoldInfo): { hold: string; reason: string; expiresAt: string } {
  return { hold: hold.id, reason: hold.reason, expiresAt: new Date(hold.expiresAt).toISOString() };
}

/** The HELD reply, as the idempotency record keeps it for a repeat of the event's key. */
function storedHeld(info: HoldInfo): StoredReply {
  return resultOfReply(heldReply(heldOf(info)));
}
