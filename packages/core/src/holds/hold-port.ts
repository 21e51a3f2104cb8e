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
}

export interface HoldPort {
  /** Keeps the event durably as a pending hold and answers HELD; never rejects. */
  make(event: EventFrame, peer: Peer, request: HoldRequest, ctx: EventContext): Promise<HoldReply>;
  /** The outcome of `holdId` for `peer`'s job, or HELD again while there is none; never rejects. */
  collect(holdId: string, peer: string, maxReplyBytes: number | undefined): Promise<HoldReply>;
}
