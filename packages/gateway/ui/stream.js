/**
 * `/_rp/stream`, read with fetch() so the key can go in a header (EventSource cannot send
 * one). One connection at a time; on an error or an end it reconnects after 1 s, 2 s, 4 s,
 * 8 s, then every 10 s; a 401 asks for the key (or a signing key: whatever the 401 says the
 * gateway takes); a 503 waits at least its Retry-After.
 */
import { askForKey, authFetch, forgetKey, refusalOf, storedKind } from './auth.js';
import { SseParser } from './sse.js';

const BACKOFF_MS = [1000, 2000, 4000, 8000, 10000];
/** Ticks come every second: this long with no byte at all means the link is dead. */
const SILENCE_MS = 10000;
const MAX_RETRY_AFTER_MS = 60000;
/**
 * A tab hidden this long lets go of its stream until it is shown again: a browser keeps at
 * most 6 HTTP/1.1 connections to one gateway, and tabs left open in the background must not
 * take them all from the one being looked at.
 */
const HIDDEN_MS = 30000;

/** Resolves once the page is visible (at once when it is). */
function visible() {
  if (!document.hidden) return Promise.resolve();
  return new Promise((resolve) => {
    const shown = () => {
      if (document.hidden) return;
      document.removeEventListener('visibilitychange', shown);
      resolve();
    };
    document.addEventListener('visibilitychange', shown);
  });
}

function refusedMessage(kind, reason) {
  if (kind === 'bearer') return 'That key was refused.';
  // The gateway says why (unknown key id, a wrong secret, a clock far off) and never what it expected.
  if (kind === 'signature') return `That key id and secret were refused${reason ? `: ${reason}` : '.'}`;
  return '';
}

export function startStream({ onTick, onState }) {
  let controller = null;
  let wake = null;
  let failures = 0;
  let everLive = false;
  let hurry = false;

  const pause = (ms) => new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      wake = null;
      resolve();
    }
    wake = done;
  });

  const handle = (message) => {
    if (message.event !== 'tick') return;
    let tick;
    try {
      tick = JSON.parse(message.data);
    } catch {
      console.warn('restpipe dashboard: a tick that is not JSON was skipped');
      return;
    }
    failures = 0;
    everLive = true;
    onState('live');
    try {
      onTick(tick);
    } catch (error) {
      console.error('restpipe dashboard: a tick could not be shown', error);
    }
  };

  async function read(response, abort) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    let silence = setTimeout(abort, SILENCE_MS);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        clearTimeout(silence);
        silence = setTimeout(abort, SILENCE_MS);
        for (const message of parser.push(decoder.decode(value, { stream: true }))) handle(message);
      }
    } finally {
      clearTimeout(silence);
    }
  }

  /** One connection, to its end: a refusal (see refusalOf), or how long to wait at least before the next. */
  async function connectOnce() {
    controller = new AbortController();
    const abort = controller.abort.bind(controller);
    try {
      const response = await authFetch('/_rp/stream', { headers: { accept: 'text/event-stream' }, signal: controller.signal });
      if (response.status === 401) return await refusalOf(response);
      if (!response.ok || !response.body) {
        response.body?.cancel().catch(() => undefined);
        const retryAfter = Number(response.headers.get('retry-after'));
        return Number.isFinite(retryAfter) ? Math.min(retryAfter * 1000, MAX_RETRY_AFTER_MS) : 0;
      }
      await read(response, abort);
    } catch {
      // Network error, abort or a broken stream: all end in a reconnect.
    } finally {
      abort();
    }
    return 0;
  }

  async function loop() {
    for (;;) {
      if (document.hidden) {
        onState('paused');
        await visible();
        failures = 0;
      }
      onState(everLive || failures > 0 ? 'reconnecting' : 'connecting');
      const outcome = await connectOnce();
      if (typeof outcome === 'object') {
        const refused = storedKind();
        forgetKey();
        onState('key needed');
        await askForKey(refusedMessage(refused, outcome.reason), outcome.offers, refused ?? undefined);
        failures = 0;
        everLive = false;
        continue;
      }
      onState('reconnecting');
      if (hurry) {
        hurry = false;
        continue;
      }
      const delay = Math.max(outcome, BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)]);
      failures += 1;
      await pause(delay);
      hurry = false;
    }
  }

  // Back online: try now rather than at the end of the backoff.
  window.addEventListener('online', () => wake?.());
  let hiddenTimer = null;
  document.addEventListener('visibilitychange', () => {
    clearTimeout(hiddenTimer);
    if (document.hidden) hiddenTimer = setTimeout(() => controller?.abort(), HIDDEN_MS);
    else wake?.();
  });
  void loop();

  /** Drops the connection and reconnects at once (after a 401 elsewhere, say). */
  return function restart() {
    hurry = true;
    controller?.abort();
    wake?.();
  };
}
