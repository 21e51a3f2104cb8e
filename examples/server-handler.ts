/**
 * An example EventHandler, loaded by `npm start` with no build step:
 *
 *     rp-server --handler ./examples/server-handler.ts
 *
 * `GET /server/time` on a client's gateway calls get_time here, and
 * `POST /server/echo` calls post_echo with the request body.
 */
import { EventHandler, reply, type EventBody, type EventContext } from 'restpipe';

export default class DemoServerHandler extends EventHandler {
  get_time(_ctx: EventContext) {
    return { time_from_server: Date.now() / 1000 };
  }

  get_cat(_ctx: EventContext, _body: EventBody, a = '', b = '') {
    return { result_from_server: a + b };
  }

  /** Sends the body back as it came: same bytes, same media type. */
  post_echo(_ctx: EventContext, body: EventBody) {
    return reply(body.raw, { mimeType: body.mimeType || 'application/octet-stream' });
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
