/**
 * The server's handler for the stream bench (bench/stream.ts), loaded by a real
 * `rp-server --handler bench/stream-handler.ts`. It is the demo handler
 * (examples/server-handler.ts: `time`, and `echo`, which streams large bodies back)
 * with two routes of its own:
 *
 *   GET  /server/bulk//N   N bytes, streamed from a 64 KiB Buffer reused (cheap to make), with their size
 *   POST /server/sink      reads the body to its end, keeping nothing; answers {"bytes": N}
 */
import type { EventBody, EventContext } from 'restpipe';
import { reply } from 'restpipe';
import DemoServerHandler from '../examples/server-handler.js';
import { bulkChunks, drain } from './bulk-source.js';

async function* bulk(bytes: number): AsyncGenerator<Buffer> {
  yield* bulkChunks(bytes);
}

export default class StreamBenchHandler extends DemoServerHandler {
  get_bulk(_ctx: EventContext, _body: EventBody, n = '0') {
    const bytes = Number(n);
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new TypeError(`bulk takes a byte count, not ${n}`);
    return reply.stream(bulk(bytes), { mimeType: 'application/octet-stream', size: bytes });
  }

  async post_sink(_ctx: EventContext, body: EventBody) {
    return { bytes: await drain(body.stream) };
  }
}
