import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { EventLines } from './event-lines.js';

const time = () => ',"time":"2026-11-24T12:00:00.000Z"';
const base = { role: 'server', pid: 4242 };

/** One record through pino and through EventLines, same options: the two lines. */
function both(level: string, write: (l: { info: (o: object, m?: string) => void; warn: (o: object, m?: string) => void; debug: (o: object, m?: string) => void }) => void): [string, string] {
  let fromPino = '';
  let ours = '';
  write(pino({ level, base, timestamp: time }, { write: (line: string) => (fromPino += line) }));
  write(new EventLines({ write: (line) => (ours += line) }, level, base, time));
  return [fromPino, ours];
}

describe('EventLines', () => {
  it('writes the per-event records byte for byte as pino does', () => {
    const [fromPino, ours] = both('info', (l) => {
      l.info({ requestId: 'r-1 "quoted" é', peer: 'node-a', handler: 'get_time', durationMs: 0.012, returnCode: 0, status: 200 }, 'event done');
      l.info({ requestId: 'r2', peer: 'client', handler: '', durationMs: Number.NaN, returnCode: 255, failed: true }, 'event handled');
      l.warn({ requestId: 'r3', peer: 'x', handler: 'post_echo', code: 'RP_ERR_EVENT_TIMEOUT' }, 'event timed out');
    });
    expect(ours).toBe(fromPino);
    expect(ours.split('\n')).toHaveLength(4);
  });

  it('drops records below its level, as pino does', () => {
    const [fromPino, ours] = both('warn', (l) => {
      l.debug({ a: 1 }, 'no');
      l.info({ a: 1 }, 'no');
      l.warn({ a: 2 }, 'yes');
    });
    expect(ours).toBe(fromPino);
    expect(JSON.parse(ours)).toMatchObject({ level: 40, a: 2, msg: 'yes', role: 'server', pid: 4242 });
  });
});
