import { describe, expect, it } from 'vitest';
import { ERROR_CODES, ForbiddenError, PipeFailError } from '@restpipe/wire';
import { envelopeBytes, envelopeOf, failFromEnvelope, MAX_ENVELOPE_MESSAGE_LENGTH, MAX_ENVELOPE_TRACEBACK_LENGTH } from './envelope.js';
import { exceptionReply } from './handle-event.js';

const boom = (): never => {
  throw new Error('x');
};
/** Every trap throws: reading, typing or printing it fails. */
const hostileTraps: ProxyHandler<object> = {
  get: boom, has: boom, getPrototypeOf: boom, ownKeys: boom, getOwnPropertyDescriptor: boom, apply: boom, construct: boom,
};
const withGetter = (name: string, base: object = new Error('base')): object =>
  Object.defineProperty(base, name, { get: boom, configurable: true });
const revoked = (): object => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};
const withBigIntField = (name: string): Error => Object.assign(new Error('m'), { [name]: 10n });

/** Values a handler may throw that are hard to print or even to look at. */
const hostile: Array<[string, () => unknown]> = [
  ['an object whose toString throws', () => ({ toString: boom })],
  ['an object whose Symbol.toPrimitive throws', () => ({ [Symbol.toPrimitive]: boom })],
  ['an object with no prototype', () => Object.create(null) as object],
  ['a Proxy whose every trap throws', () => new Proxy({}, hostileTraps)],
  ['a Proxy of an Error whose get trap throws', () => new Proxy(new Error('inner'), { get: boom })],
  ['a revoked Proxy', revoked],
  ['an Error whose message getter throws', () => withGetter('message')],
  ['an Error whose name getter throws', () => withGetter('name')],
  ['an Error whose code getter throws', () => withGetter('code')],
  ['an Error whose stack getter throws', () => withGetter('stack')],
  ['an Error whose constructor getter throws', () => withGetter('constructor', Object.assign(new Error('m'), { name: 'Error' }))],
  ['an Error whose message is a BigInt', () => withBigIntField('message')],
  ['an Error whose name is a BigInt', () => withBigIntField('name')],
  ['an Error whose stack is a BigInt', () => withBigIntField('stack')],
  ['an Error whose message is an object whose toString throws', () => Object.assign(new Error('m'), { message: { toString: boom } })],
  ['a Symbol', () => Symbol('thrown')],
  ['null', () => null],
  ['undefined', () => undefined],
  ['a BigInt', () => 10n],
  ['a function whose toString throws', () => Object.assign(() => 0, { toString: boom })],
];

describe('envelopeOf and envelopeBytes never throw, whatever was thrown', () => {
  it.each(hostile)('%s', (_what, make) => {
    for (const traceback of [false, true]) {
      const value = make();
      const { exception } = envelopeOf(value, traceback);
      for (const field of ['class', 'message', 'code', 'traceback'] as const) expect(typeof exception[field]).toBe('string');
      expect(exception.code).toMatch(/^RP_ERR_[A-Z0-9_]+$/);
      const parsed = JSON.parse(envelopeBytes(value, traceback).toString('utf8')) as { exception: Record<string, unknown> };
      expect(Object.keys(parsed.exception).sort()).toEqual(['class', 'code', 'message', 'traceback']);
      const reply = exceptionReply(value, traceback);
      expect({ status: reply.status, returnCode: reply.returnCode, kind: reply.kind }).toEqual({ status: 500, returnCode: 251, kind: 1 });
    }
  });

  it('a restpipe error whose status or return code cannot be read still answers', () => {
    expect(exceptionReply(withGetter('status', new ForbiddenError('f')), false)).toMatchObject({ status: 500, returnCode: 252, kind: 1 });
    expect(exceptionReply(withGetter('returnCode', new ForbiddenError('f')), false)).toMatchObject({ status: 403, returnCode: 0, kind: 1 });
    expect(envelopeOf(withGetter('status', new ForbiddenError('f')), false).exception.code).toBe(ERROR_CODES.FORBIDDEN);
  });

  it('prints what it can, and [unprintable] for what it cannot', () => {
    expect(envelopeOf(Symbol('thrown'), false).exception.message).toBe('Symbol(thrown)');
    expect(envelopeOf(10n, false).exception.message).toBe('10');
    expect(envelopeOf(null, false).exception.message).toBe('null');
    expect(envelopeOf(undefined, false).exception.message).toBe('undefined');
    expect(envelopeOf({ toString: boom }, false).exception.message).toBe('[unprintable]');
    expect(envelopeOf(new Proxy({}, hostileTraps), false).exception).toEqual({ class: 'Error', message: '[unprintable]', code: ERROR_CODES.HANDLER, traceback: '' });
    const noMessage = envelopeOf(withGetter('message', new RangeError('r')), false).exception;
    expect(noMessage).toEqual({ class: 'RangeError', message: '[unprintable]', code: ERROR_CODES.HANDLER, traceback: '' });
  });

  it('keeps an ordinary error as it was', () => {
    const error = Object.assign(new TypeError('bad'), { code: 'RP_ERR_CUSTOM' });
    expect(envelopeOf(error, true).exception).toEqual({ class: 'TypeError', message: 'bad', code: 'RP_ERR_CUSTOM', traceback: error.stack });
    expect(envelopeOf('plain', false).exception).toEqual({ class: 'Error', message: 'plain', code: ERROR_CODES.HANDLER, traceback: '' });
  });
});

describe('failFromEnvelope bounds what a peer says', () => {
  const fail = (exception: Record<string, unknown>): PipeFailError => failFromEnvelope(JSON.stringify({ exception }), 500, 251);
  const huge = 1_000_000;
  /** What a failed assertion prints: never a million characters. */
  const short = (text: string): string => (text.length > 200 ? `${text.slice(0, 200)}... (${text.length})` : text);

  it('keeps an envelope of ours as it came', () => {
    const e = fail({ class: 'requests.exceptions.HTTPError', message: 'line 1\nline 2', code: 'RP_ERR_HANDLER', traceback: 'Traceback:\n  at x' });
    expect({ className: e.className, message: e.message, code: e.code, traceback: e.traceback })
      .toEqual({ className: 'requests.exceptions.HTTPError', message: 'line 1\nline 2', code: 'RP_ERR_HANDLER', traceback: 'Traceback:\n  at x' });
  });

  it.each([
    ['1,000,000 characters', `RP_ERR_${'A'.repeat(huge)}`],
    ['65 characters after RP_ERR_', `RP_ERR_${'A'.repeat(65)}`],
    ['lower case', 'RP_ERR_handler'],
    ['no RP_ERR_ prefix', 'E_HANDLER'],
    ['nothing after RP_ERR_', 'RP_ERR_'],
    ['a newline', 'RP_ERR_HANDLER\n'],
  ])('a code of %s becomes RP_ERR_REMOTE', (_what, code) => {
    expect(short(fail({ class: 'E', message: 'm', code, traceback: '' }).code)).toBe(ERROR_CODES.REMOTE);
  });

  it('keeps a code of 64 characters after RP_ERR_', () => {
    const code = `RP_ERR_${'A'.repeat(64)}`;
    expect(fail({ class: 'E', message: 'm', code, traceback: '' }).code).toBe(code);
  });

  it.each([
    ['1,000,000 characters', 'C'.repeat(huge)],
    ['129 characters', 'C'.repeat(129)],
    ['a space', 'Bad Error'],
    ['a newline', 'Error\nINFO forged line'],
    ['markup', '<script>'],
    ['nothing', ''],
  ])('a class of %s becomes RemoteError', (_what, className) => {
    expect(short(fail({ class: className, message: 'm', code: 'RP_ERR_HANDLER', traceback: '' }).className)).toBe('RemoteError');
  });

  it('keeps a class of 128 identifier characters; no class at all is HTTPError, as before', () => {
    const className = `C${'c'.repeat(127)}`;
    expect(fail({ class: className, message: 'm', code: 'RP_ERR_HANDLER', traceback: '' }).className).toBe(className);
    expect(fail({ message: 'm', code: 'RP_ERR_HANDLER', traceback: '' }).className).toBe('HTTPError');
    expect(failFromEnvelope('<html>bad gateway</html>', 502).className).toBe('HTTPError');
  });

  it('cuts a long message and traceback, saying how long they were', () => {
    const e = fail({ class: 'E', message: 'm'.repeat(huge), code: 'RP_ERR_HANDLER', traceback: 't'.repeat(huge) });
    // Lengths and ends only: a failure must not print a million characters.
    const note = `... (${huge} characters)`;
    expect(e.message.length).toBe(MAX_ENVELOPE_MESSAGE_LENGTH + note.length);
    expect(e.message.endsWith(`m${note}`)).toBe(true);
    expect(e.traceback.length).toBe(MAX_ENVELOPE_TRACEBACK_LENGTH + note.length);
    expect(e.traceback.endsWith(`t${note}`)).toBe(true);
    expect(MAX_ENVELOPE_MESSAGE_LENGTH).toBe(4096);
    expect(MAX_ENVELOPE_TRACEBACK_LENGTH).toBe(65_536);
  });

  it('keeps a message and traceback at their limits whole', () => {
    const e = fail({ class: 'E', message: 'm'.repeat(MAX_ENVELOPE_MESSAGE_LENGTH), code: 'RP_ERR_HANDLER', traceback: 't'.repeat(MAX_ENVELOPE_TRACEBACK_LENGTH) });
    expect(e.message.length).toBe(MAX_ENVELOPE_MESSAGE_LENGTH);
    expect(e.traceback.length).toBe(MAX_ENVELOPE_TRACEBACK_LENGTH);
  });

  it('cuts a body that is no envelope, as before', () => {
    expect(failFromEnvelope('x'.repeat(huge), 502).message.length).toBe(500);
    expect(failFromEnvelope('', 502).message).toBe('HTTP 502');
  });
});
