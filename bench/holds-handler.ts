/**
 * The holding node's handler for the holds bench (bench/holds.ts), loaded by a real
 * `rp-server --handler bench/holds-handler.ts`: `held/...` nouns wait for an approval
 * (SPEC §9), `echo` answers at once, as examples/server-handler.ts does.
 */
import { EventHandler, hold, reply, type EventBody, type EventContext } from 'restpipe';

export default class HoldsBenchHandler extends EventHandler {
  override authorize(ctx: EventContext) {
    if (ctx.noun[0] === 'held') return hold({ reason: `bench: ${ctx.verb} ${ctx.noun.join('/')} waits for an approval` });
    return true;
  }

  /** Runs once its hold is approved: the reply that ends the sender's job. */
  post_held_run(ctx: EventContext, body: EventBody) {
    return { ran: true, bytes: body.raw.length, by: ctx.peer.name };
  }

  /** The same node's un-held call, for the creation-rate comparison. */
  post_echo(_ctx: EventContext, body: EventBody) {
    return reply(body.raw, { mimeType: body.mimeType || 'application/octet-stream' });
  }
}
