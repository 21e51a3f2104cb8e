import { describe, expect, it } from 'vitest';
import { EventHandler } from './event-handler.js';
import { DefaultHandler } from './default-handler.js';
import { findHandlerMethod, handlerMethodName, validateNoun } from './dispatch.js';

class Base extends EventHandler {
  get_inherited(): string {
    return 'from a user base class';
  }
}

class Mine extends Base {
  get_time(): number {
    return 1;
  }
  _get_hidden(): number {
    return 2;
  }
  override authorize(): boolean {
    return true;
  }
  notAFunction = 'x';
}

describe('dispatch', () => {
  const handler = new Mine();

  it('names methods verb_noun_parts', () => {
    expect(handlerMethodName('get', ['time', 'utc'])).toBe('get_time_utc');
  });

  it('finds methods the user class and its user base classes define', () => {
    expect(findHandlerMethod(handler, 'get_time')).toBe(Mine.prototype.get_time);
    expect(findHandlerMethod(handler, 'get_inherited')).toBe(Base.prototype.get_inherited);
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf', '_get_hidden', 'notAFunction', 'get_missing'])(
    'never dispatches to %s',
    (name) => {
      expect(findHandlerMethod(handler, name)).toBeUndefined();
    },
  );

  it('never dispatches to EventHandler itself or anything above it', () => {
    Object.defineProperty(EventHandler.prototype, 'get_planted', { value: () => 'bad', configurable: true });
    try {
      expect(findHandlerMethod(handler, 'get_planted')).toBeUndefined();
    } finally {
      delete (EventHandler.prototype as unknown as Record<string, unknown>)['get_planted'];
    }
  });

  it('the default handler answers get_time and get_cat only', () => {
    const d = new DefaultHandler('server');
    expect(findHandlerMethod(d, 'get_time')).toBeTypeOf('function');
    expect(findHandlerMethod(d, 'get_cat')).toBeTypeOf('function');
    expect(findHandlerMethod(d, 'constructor')).toBeUndefined();
  });

  it.each([[[]], [['']], [['..']], [['%2e']], [['_x']], [['a', '']], [['1abc']], [['a-b']]])('rejects the noun %j', (noun) => {
    expect(() => validateNoun(noun)).toThrow(expect.objectContaining({ code: 'RP_ERR_INVALID_PATH', status: 400 }));
  });

  it('accepts letters, digits and underscores after a leading letter', () => {
    expect(() => validateNoun(['time', 'utc_2', 'A9'])).not.toThrow();
  });
});
