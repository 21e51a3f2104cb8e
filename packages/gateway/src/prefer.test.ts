import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '@restpipe/core';
import { idempotencyKeyOf, jobTtlOf, MAX_WAIT_SECONDS, parsePrefer } from './prefer.js';

/** The error parsePrefer / idempotencyKeyOf / jobTtlOf threw, checked to be a 400 InvalidRequestError. */
function refused(run: () => unknown): InvalidRequestError {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected an InvalidRequestError').toBeInstanceOf(InvalidRequestError);
  const error = thrown as InvalidRequestError;
  expect(error.status).toBe(400);
  expect(error.code).toBe('RP_ERR_INVALID_REQUEST');
  return error;
}

describe('parsePrefer (RFC 7240)', () => {
  it('asks for nothing when there is no Prefer header', () => {
    expect(parsePrefer(undefined)).toEqual({ respondAsync: false, waitSeconds: undefined });
    expect(parsePrefer('')).toEqual({ respondAsync: false, waitSeconds: undefined });
  });

  it('takes respond-async alone, wait alone, and both in either order', () => {
    expect(parsePrefer('respond-async')).toEqual({ respondAsync: true, waitSeconds: undefined });
    expect(parsePrefer('wait=10')).toEqual({ respondAsync: false, waitSeconds: 10 });
    expect(parsePrefer('respond-async, wait=5')).toEqual({ respondAsync: true, waitSeconds: 5 });
    expect(parsePrefer('wait=5, respond-async')).toEqual({ respondAsync: true, waitSeconds: 5 });
    expect(parsePrefer('wait=5,respond-async')).toEqual({ respondAsync: true, waitSeconds: 5 });
  });

  it('takes the bounds of wait: 0 and 86400 seconds, leading zeros, a quoted value, spaces around "="', () => {
    expect(parsePrefer('wait=0').waitSeconds).toBe(0);
    expect(parsePrefer(`wait=${MAX_WAIT_SECONDS}`).waitSeconds).toBe(86_400);
    expect(parsePrefer('wait=007').waitSeconds).toBe(7);
    expect(parsePrefer('wait="12"').waitSeconds).toBe(12);
    expect(parsePrefer('wait = 3').waitSeconds).toBe(3);
  });

  it('joins several Prefer headers (an array) as one list', () => {
    expect(parsePrefer(['respond-async', 'wait=7'])).toEqual({ respondAsync: true, waitSeconds: 7 });
    expect(parsePrefer(['wait=7', 'respond-async'])).toEqual({ respondAsync: true, waitSeconds: 7 });
    expect(parsePrefer(['handling=lenient', 'respond-async'])).toEqual({ respondAsync: true, waitSeconds: undefined });
    expect(parsePrefer([])).toEqual({ respondAsync: false, waitSeconds: undefined });
  });

  it('ignores the parameters after ";"', () => {
    expect(parsePrefer('respond-async; foo=bar')).toEqual({ respondAsync: true, waitSeconds: undefined });
    expect(parsePrefer('respond-async;x;y=1, wait=4;unit=s')).toEqual({ respondAsync: true, waitSeconds: 4 });
    expect(parsePrefer('foo="a;b", respond-async')).toEqual({ respondAsync: true, waitSeconds: undefined });
  });

  it('matches preference names case-insensitively', () => {
    expect(parsePrefer('Respond-Async, WAIT=9')).toEqual({ respondAsync: true, waitSeconds: 9 });
    expect(parsePrefer('RESPOND-ASYNC')).toEqual({ respondAsync: true, waitSeconds: undefined });
  });

  it('ignores preferences it does not know, with or without values', () => {
    expect(parsePrefer('return=minimal')).toEqual({ respondAsync: false, waitSeconds: undefined });
    expect(parsePrefer('handling=strict, return=representation, respond-async, x-custom')).toEqual({
      respondAsync: true,
      waitSeconds: undefined,
    });
    expect(parsePrefer('foo="a b", wait=2')).toEqual({ respondAsync: false, waitSeconds: 2 });
  });

  it('ignores empty list elements', () => {
    expect(parsePrefer(', ,respond-async,, ,wait=1,')).toEqual({ respondAsync: true, waitSeconds: 1 });
    expect(parsePrefer(' , , ')).toEqual({ respondAsync: false, waitSeconds: undefined });
    expect(parsePrefer(['', 'respond-async', ''])).toEqual({ respondAsync: true, waitSeconds: undefined });
  });

  it.each([
    ['a name that is no token', 'resp@nd-async'],
    ['a name with a space', 'respond async'],
    ['a quoted name', '"respond-async"'],
    ['an empty name', '=5'],
    ['a name with a slash', 'a/b, respond-async'],
  ])('refuses %s, naming Prefer', (_what, header) => {
    expect(refused(() => parsePrefer(header)).message).toMatch(/^Prefer:/);
  });

  it.each([['respond-async=1'], ['respond-async=""'], ['respond-async=yes, wait=3']])('refuses respond-async with a value: %s', (header) => {
    expect(refused(() => parsePrefer(header)).message).toMatch(/^Prefer: respond-async/);
  });

  it.each([
    ['not digits', 'wait=soon'],
    ['a fraction', 'wait=1.5'],
    ['negative', 'wait=-1'],
    ['a sign', 'wait=+1'],
    ['over 86400', 'wait=86401'],
    ['far over 86400', 'wait=9999999'],
    ['an exponent', 'wait=1e3'],
    ['hex', 'wait=0x10'],
    ['missing value', 'wait'],
    ['empty value', 'wait='],
    ['empty quoted value', 'wait=""'],
    ['missing value beside respond-async', 'respond-async, wait'],
  ])('refuses wait %s (%s), naming Prefer', (_what, header) => {
    expect(refused(() => parsePrefer(header)).message).toMatch(/^Prefer: wait/);
  });

  // PRODUCT DEFECT (reported): RFC 7240 §2 allows a quoted-string value, which may hold a
  // comma; prefer.ts splits the whole header on every ',' first, so a valid header is 400.
  it('takes a quoted value that holds a comma (RFC 7240 word = token / quoted-string)', () => {
    expect(parsePrefer('respond-async; note="a,b"')).toEqual({ respondAsync: true, waitSeconds: undefined });
    expect(parsePrefer('foo="x,y", wait=3')).toEqual({ respondAsync: false, waitSeconds: 3 });
  });

  // PRODUCT DEFECT (reported): RFC 7240 §2: "If any preference is specified more than once,
  // only the first instance is to be considered. All subsequent occurrences SHOULD be
  // ignored without signaling an error". prefer.ts lets the last wait win, and refuses a
  // malformed repeat.
  it('considers only the first instance of a repeated preference', () => {
    expect(parsePrefer('wait=5, wait=10').waitSeconds).toBe(5);
    expect(parsePrefer(['wait=5', 'wait=10']).waitSeconds).toBe(5);
    expect(parsePrefer('wait=5, wait=soon').waitSeconds).toBe(5);
  });

  it('never throws anything but InvalidRequestError, whatever the header (property)', () => {
    const header = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.string({ unit: fc.constantFrom(...' ,;="\\\tawitresponday-0123456789'.split('')), maxLength: 60 }),
      fc.array(fc.string({ maxLength: 30 }), { maxLength: 4 }),
    );
    fc.assert(
      fc.property(header, (h) => {
        try {
          const p = parsePrefer(h);
          expect(typeof p.respondAsync).toBe('boolean');
          if (p.waitSeconds !== undefined) {
            expect(Number.isInteger(p.waitSeconds)).toBe(true);
            expect(p.waitSeconds).toBeGreaterThanOrEqual(0);
            expect(p.waitSeconds).toBeLessThanOrEqual(MAX_WAIT_SECONDS);
          }
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidRequestError);
          expect((error as Error).message).toMatch(/^Prefer:/);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('reads back any wait from 0 to 86400 beside respond-async, in either order (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_WAIT_SECONDS }), fc.boolean(), (n, first) => {
        const parts = [`wait=${n}`, 'respond-async'];
        expect(parsePrefer((first ? parts : parts.reverse()).join(', '))).toEqual({ respondAsync: true, waitSeconds: n });
      }),
    );
  });
});

describe('idempotencyKeyOf', () => {
  it('is undefined without the header', () => {
    expect(idempotencyKeyOf(undefined)).toBeUndefined();
  });

  it('takes a bare key and a quoted (structured-field string) key, trimming the header', () => {
    expect(idempotencyKeyOf('order-1')).toBe('order-1');
    expect(idempotencyKeyOf('"order-1"')).toBe('order-1');
    expect(idempotencyKeyOf('  order-1  ')).toBe('order-1');
    expect(idempotencyKeyOf(' "8e03978e-40d5-43e8-bc93-6894a57f9324" ')).toBe('8e03978e-40d5-43e8-bc93-6894a57f9324');
    expect(idempotencyKeyOf('a key with spaces')).toBe('a key with spaces');
  });

  it('undoes the escapes of a quoted key', () => {
    expect(idempotencyKeyOf('"a\\"b"')).toBe('a"b');
    expect(idempotencyKeyOf('"a\\\\b"')).toBe('a\\b');
  });

  it('takes 255 characters and refuses 256, quoted or bare', () => {
    expect(idempotencyKeyOf('k'.repeat(255))).toBe('k'.repeat(255));
    expect(idempotencyKeyOf(`"${'k'.repeat(255)}"`)).toBe('k'.repeat(255));
    expect(refused(() => idempotencyKeyOf('k'.repeat(256))).message).toMatch(/^Idempotency-Key/);
    expect(refused(() => idempotencyKeyOf(`"${'k'.repeat(256)}"`)).message).toMatch(/^Idempotency-Key/);
  });

  it.each([
    ['empty', ''],
    ['blank', '   '],
    ['an empty quoted string', '""'],
    ['a control character', 'a\u0001b'],
    ['a tab inside', 'a\tb'],
    ['DEL', 'a\u007fb'],
    ['a NUL', 'a\u0000b'],
    ['non-ASCII', 'clé'],
    ['a quoted control character', '"a\u0002b"'],
  ])('refuses %s, naming Idempotency-Key', (_what, header) => {
    expect(refused(() => idempotencyKeyOf(header)).message).toMatch(/^Idempotency-Key/);
  });

  it('refuses several Idempotency-Key headers (an array)', () => {
    expect(refused(() => idempotencyKeyOf(['a', 'b'])).message).toMatch(/^Idempotency-Key/);
    expect(refused(() => idempotencyKeyOf(['a'])).message).toMatch(/^Idempotency-Key/);
  });

  it('takes exactly the printable ASCII keys of 1 to 255 characters (property)', () => {
    const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 255 });
    fc.assert(
      fc.property(printable, (key) => {
        // A bare key that starts and ends with '"' is read as quoted: leave those to the tests above.
        fc.pre(!(key.length >= 2 && key.startsWith('"') && key.endsWith('"')));
        expect(idempotencyKeyOf(key)).toBe(key);
      }),
    );
  });
});

describe('jobTtlOf', () => {
  it('is undefined without the header', () => {
    expect(jobTtlOf(undefined)).toBeUndefined();
  });

  it('takes whole ms from 1 to 2147483647, trimming the header', () => {
    expect(jobTtlOf('1')).toBe(1);
    expect(jobTtlOf('60000')).toBe(60_000);
    expect(jobTtlOf(' 500 ')).toBe(500);
    expect(jobTtlOf('2147483647')).toBe(2_147_483_647);
  });

  it.each([['0'], ['2147483648'], ['9999999999'], ['-1'], ['1.5'], ['1e3'], ['abc'], [''], ['12345678901'], ['0x10']])(
    'refuses %j, naming X-Job-Ttl-Ms',
    (header) => {
      expect(refused(() => jobTtlOf(header)).message).toMatch(/^X-Job-Ttl-Ms/);
    },
  );

  it('refuses several X-Job-Ttl-Ms headers (an array)', () => {
    expect(refused(() => jobTtlOf(['100', '200'])).message).toMatch(/^X-Job-Ttl-Ms/);
  });
});
