import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_ID_LENGTH, nextRequestId, peerRequestId, saneRequestId } from './request-id.js';

describe('request ids from outside', () => {
  it.each(['a', 'trace-123', 'x'.repeat(MAX_REQUEST_ID_LENGTH), 'with spaces and "quotes" <tags> ~', '0af7651916cd43dd8448eb211c80319c'])(
    'keeps %j, a sane id', (id) => {
      expect(peerRequestId(id)).toBe(id);
      expect(saneRequestId(id, () => 'fresh')).toBe(id);
    });

  it.each([
    ['empty', ''],
    ['129 characters', 'x'.repeat(MAX_REQUEST_ID_LENGTH + 1)],
    ['4 MiB', 'x'.repeat(4 << 20)],
    ['a newline', 'a\nb'],
    ['a carriage return', 'a\r\nSet-Cookie: x=1'],
    ['a NUL', 'a\0b'],
    ['DEL', 'a\x7fb'],
    ['non-ASCII', 'caf\u00e9'],
    ['an escape sequence', '\x1b[31mred'],
  ])('replaces one with %s by a fresh id, whole', (_what, id) => {
    expect(saneRequestId(id, () => 'fresh')).toBe('fresh');
    const replaced = peerRequestId(id);
    expect(replaced).not.toBe(id);
    expect(replaced).toMatch(/^[0-9a-f]{12}-[0-9a-z]+$/);
  });

  it('replaces what is not a string at all', () => {
    for (const value of [undefined, null, 5, ['a'], {}]) expect(saneRequestId(value, () => 'fresh')).toBe('fresh');
  });

  it('makes a different id each time', () => {
    expect(peerRequestId('')).not.toBe(peerRequestId(''));
    expect(nextRequestId()).not.toBe(nextRequestId());
  });

  it('judges a 64 MiB id in well under a millisecond', () => {
    const huge = 'x'.repeat(64 << 20);
    const started = performance.now();
    for (let i = 0; i < 100; i++) peerRequestId(huge);
    expect((performance.now() - started) / 100).toBeLessThan(1);
  });
});
