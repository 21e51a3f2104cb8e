/**
 * A peer's exception envelope is text it chose, and it reaches our errors, the
 * `restpipe:event:error` diagnostics channel and the observer's log line. A
 * hand-driven client answers the server's request with an envelope whose code,
 * class and message are a million characters each: what the caller and the logs
 * get is bounded.
 */
import dc from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReplyKind, type EventErrorMessage, type PipeFailError, type PipeServer } from '@restpipe/core';
import { Observer } from '@restpipe/metrics';
import { memoryLogger } from './helpers/logs.js';
import { TestPki } from './helpers/pki.js';
import { PipeFixture } from './helpers/pipes.js';
import { RawPeer } from './helpers/raw-peer.js';
import { settle, waitFor } from './helpers/wait.js';

const HUGE = 1_000_000;
const pki = new TestPki();
const pipes = new PipeFixture(pki);
const logger = memoryLogger();
const published: EventErrorMessage[] = [];
const onEventError = (message: unknown): void => void published.push(message as EventErrorMessage);
let server: PipeServer & { port: number };
let observer: Observer;
let peer: RawPeer;

beforeAll(async () => {
  server = await pipes.server({ maxEventBytes: 8 << 20 });
  observer = new Observer({ owner: server, statsd: 'off', prefix: 'test', connections: () => server.connectionCount, logger });
  dc.subscribe('restpipe:event:error', onEventError);
  peer = await RawPeer.connect(server.port, pki.client('mallory'), pki.ca.certPem);
  peer.hello();
  await waitFor(() => server.isConnected('mallory'), 'mallory to register');
});

afterAll(async () => {
  dc.unsubscribe('restpipe:event:error', onEventError);
  peer?.destroy();
  await observer?.close();
  await pipes.closeAll();
});

/** Sends one request to mallory, who answers it with this envelope. */
async function answeredWith(exception: Record<string, string>): Promise<PipeFailError> {
  const before = peer.frames.filter((f) => f.kind === 'event').length;
  const pending = settle(server.request('mallory', { noun: 'x', timeoutMs: 10_000 }));
  const event = await waitFor(() => peer.frames.filter((f) => f.kind === 'event')[before], 'the event at mallory');
  if (event.kind !== 'event') throw new Error('not an event');
  const data = Buffer.from(JSON.stringify({ exception }));
  peer.send({ kind: 'reply', reply: { id: event.event.id, returnCode: 251, mimeType: 'application/json', data, kind: ReplyKind.EXCEPTION, status: 500 } });
  const outcome = await pending;
  if (outcome.ok) throw new Error('the request did not fail');
  return outcome.error as unknown as PipeFailError;
}

/** What a failed assertion prints: never a million characters. */
const short = (text: unknown): unknown => (typeof text === 'string' && text.length > 200 ? `${text.slice(0, 200)}... (${text.length})` : text);

/** Lengths, not the text: a failure must not print a million characters. */
const lengths = (error: PipeFailError): Record<string, number> => ({
  code: error.code.length, className: error.className.length, message: error.message.length, traceback: error.traceback.length,
});

describe("a peer's exception envelope is bounded before it reaches us", () => {
  it('a million-character code, class and message', async () => {
    const logged = logger.records.length;
    const seen = published.length;
    const error = await answeredWith({
      code: `RP_ERR_${'A'.repeat(HUGE)}`, class: 'C'.repeat(HUGE), message: `${'m'.repeat(HUGE)}\nINFO forged`, traceback: 't'.repeat(HUGE),
    });
    expect(short(error.code)).toBe('RP_ERR_REMOTE');
    expect(short(error.className)).toBe('RemoteError');
    expect(lengths(error).message).toBeLessThanOrEqual(4096 + 40);
    expect(error.message.endsWith(`... (${HUGE + 12} characters)`)).toBe(true);
    expect(lengths(error).traceback).toBeLessThanOrEqual(65_536 + 40);
    expect(error.status).toBe(500);

    const message = await waitFor(() => published.slice(seen).find((m) => m.owner === server), 'the eventError message');
    expect(short(message.code)).toBe('RP_ERR_REMOTE');
    const line = await waitFor(() => logger.records.slice(logged).find((r) => r.msg === 'event failed'), 'the observer log line');
    expect(short(line['code'])).toBe('RP_ERR_REMOTE');
    expect(JSON.stringify(line).length).toBeLessThan(1024);
    // The connection carries on.
    expect(server.isConnected('mallory')).toBe(true);
  });

  it('keeps an envelope within the bounds as it came', async () => {
    const error = await answeredWith({ code: 'RP_ERR_HANDLER', class: 'ValueError', message: 'bad value', traceback: 'Traceback (most recent call last):\n  ...' });
    expect({ code: error.code, className: error.className, message: error.message, traceback: error.traceback })
      .toEqual({ code: 'RP_ERR_HANDLER', className: 'ValueError', message: 'bad value', traceback: 'Traceback (most recent call last):\n  ...' });
    expect(server.isConnected('mallory')).toBe(true);
  });
});
