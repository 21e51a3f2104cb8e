/**
 * What an event's dispatch needs of the node's holds (SPEC §9), as a leaf: handle-event
 * uses it, and the HoldDesk that implements it uses handle-event, without a cycle.
 */
import type { EventFrame, ReplyKind } from '@restpipe/wire';
import type { EventContext, Peer } from '../api-types.js';
import type { HoldRequest } from './hold-request.js';

/** Reply fields without a handler name: what a hold answers an event with. */
export interface HoldReply {
  returnCode: number;
  mimeType: string;
  data: Buffer;
  kind: ReplyKind;
  status: number;
  /** Answered from what is kept (a hold's outcome): the sender takes it as final, never as "busy". */
  replayed?: boolean;
  /** Nothing was kept and nothing ran (the store failed): a keyed request's record is let go, so it may be tried again. */
  transient?: boolean;
}

export interface HoldPort {
  /** Keeps the event durably as a pending hold and answers HELD; never rejects. */
  make(event: EventFrame, peer: Peer, request: HoldRequest, ctx: EventContext): Promise<HoldReply>;
  /** The outcome of `holdId` for `peer`'s job, or HELD again while there is none; never rejects. */
  collect(holdId: string, peer: string, maxReplyBytes: number | undefined): Promise<HoldReply>;
  /** The sender cancelled its job on `holdId`: a pending hold is denied; never rejects. */
  withdraw(holdId: string, peer: string): Promise<HoldReply>;
}
