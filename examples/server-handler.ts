/**
 * An example EventHandler, loaded by `npm start` with no build step:
 *
 *     rp-server --handler ./examples/server-handler.ts
 *
 * `GET /server/time` on a client's gateway calls get_time here, and
 * `POST /server/echo` calls post_echo with the request body. `POST /server/deploy//v2` is
 * held until a person approves it on this node's gateway (`/_rp/holds`).
 */
import { EventHandler, hold, reply, type EventBody, type EventContext, type HoldView } from 'restpipe';

export default class DemoServerHandler extends EventHandler {
  /** `deploy` waits for a person (SPEC §9): approve it with POST /_rp/holds/ID/approve on this node's gateway. */
  authorize(ctx: EventContext) {
    if (ctx.noun[0] === 'deploy') return hold({ reason: `deploy ${ctx.args[0] ?? '?'}, asked by ${ctx.peer.name}`, ttlMs: 3_600_000 });
    return true;
  }

  onHold(view: HoldView) {
    console.error(`approval needed: ${view.reason}; POST /_rp/holds/${view.hold}/approve or /deny`);
  }

  /** Runs only once a person approved the hold. */
  post_deploy(ctx: EventContext, _body: EventBody, version = '') {
    return { deployed: version, by: ctx.peer.name };
  }

  get_time(_ctx: EventContext) {
    return { time_from_server: Date.now() / 1000 };
  }

  get_cat(_ctx: EventContext, _body: EventBody, a = '', b = '') {
    return { result_from_server: a + b };
  }

  /** Sends the body back as it came: same bytes, same media type; a body of any size streams back (SPEC §12). */
  post_echo(_ctx: EventContext, body: EventBody) {
    const mimeType = body.mimeType || 'application/octet-stream';
    return body.streamed ? reply.stream(body.stream, { mimeType, ...(body.size === undefined ? {} : { size: body.size }) }) : reply(body.raw, { mimeType });
  }

  /** POST a JSON array of numbers; answers their sum. */
  post_sum(_ctx: EventContext, body: EventBody) {
    if (!Array.isArray(body.data) || !body.data.every((n) => typeof n === 'number')) {
      throw new TypeError('send a JSON array of numbers, e.g. [1, 2, 3]');
    }
    return { sum: body.data.reduce((a: number, b: number) => a + b, 0) };
  }

  /** Asks the calling client for its time, over the same pipe, the other way. */
  async get_client_time(ctx: EventContext) {
    const answer = await ctx.pipe.request({ noun: 'time' });
    return { asked: ctx.peer.name, answer: answer.data };
  }
}
