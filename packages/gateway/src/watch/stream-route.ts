import type { FastifyInstance } from 'fastify';
import { TooManyInFlightError } from '@restpipe/core';
import type { Ticker } from './ticker.js';

/** Pages watching one gateway at once; past it, 503. */
export const MAX_WATCHERS = 32;
/** A comment line now and then, so that proxies keep an idle stream open. */
const PING_EVERY_TICKS = 15;
/** A page whose socket stays full this long is cut off. */
export const STUCK_READER_MS = 30_000;

/**
 * `/_rp/stream` (SPEC §13): server-sent events, one `tick` a second. A page that reads
 * slower than that skips ticks (the socket's buffer is full) and then gets what it
 * missed from the rings, never a growing buffer here.
 */
export function registerStreamRoute(app: FastifyInstance, ticker: Ticker): void {
  const open = new Set<() => void>();
  app.get('/_rp/stream', (request, reply) => {
    // 503 with Retry-After, as any TooManyInFlightError.
    if (ticker.watching >= MAX_WATCHERS) throw new TooManyInFlightError(`${MAX_WATCHERS} pages are watching this gateway already`);
    const res = reply.raw;
    reply.hijack();
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store, no-transform',
      // nginx: pass each tick on at once.
      'x-accel-buffering': 'no',
      'x-request-id': request.id,
    });
    let blockedSince = 0;
    let ticks = 0;
    const unsubscribe = ticker.subscribe({
      ready: () => {
        if (res.writableEnded) return false;
        if (blockedSince === 0) return true;
        // A page that has read nothing for this long holds a slot other pages may need: let it go.
        if (Date.now() - blockedSince > STUCK_READER_MS) res.destroy();
        return false;
      },
      send: (data) => {
        ticks += 1;
        const ping = ticks % PING_EVERY_TICKS === 0 ? ': ping\n\n' : '';
        // Written whole even when the socket is full; the next ones wait for its drain.
        if (!res.write(`${ping}event: tick\ndata: ${data}\n\n`)) blockedSince = Date.now();
      },
    });
    res.on('drain', () => (blockedSince = 0));
    const end = (): void => {
      unsubscribe();
      open.delete(end);
      if (!res.writableEnded) res.end();
    };
    open.add(end);
    res.on('close', end);
    res.on('error', end);
  });
  // Before the server closes: an open stream would hold it open for ever.
  app.addHook('preClose', (done) => {
    for (const end of [...open]) end();
    ticker.stop();
    done();
  });
}
