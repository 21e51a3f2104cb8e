import { describe, expect, it } from 'vitest';
import { brandKey } from './brand.js';
import * as errors from './index.js';

const errorClasses = Object.entries(errors).filter(
  (entry): entry is [string, abstract new (...a: never[]) => Error] => typeof entry[1] === 'function' && (entry[1] === errors.RpError || entry[1].prototype instanceof errors.RpError),
);

describe('error brands', () => {
  it('every exported error class is branded, under its own name', () => {
    expect(errorClasses.length).toBeGreaterThan(25);
    for (const [name, cls] of errorClasses) {
      expect(errors.ERROR_CLASSES, `${name} is missing from ERROR_CLASSES`).toHaveProperty(name, cls);
      expect(cls.name).toBe(name);
      expect(Object.hasOwn(cls.prototype, brandKey(name)), `${name} has no brand`).toBe(true);
    }
  });

  it('an object that merely carries a brand of its own is no instance; one that inherits it is', () => {
    const key = brandKey('HttpError');
    expect({ [key]: true } instanceof errors.HttpError).toBe(false);
    expect(Object.create({ [key]: true }) instanceof errors.HttpError).toBe(true);
    expect(null instanceof errors.RpError).toBe(false);
    expect('HttpError' instanceof errors.RpError).toBe(false);
  });
});

describe('reply statuses', () => {
  it('a handler may choose any 4xx or 503', () => {
    for (let s = 0; s < 1000; s++) expect(errors.isHandlerStatus(s)).toBe((s >= 400 && s < 500) || s === 503);
    expect(errors.isHandlerStatus(404.5)).toBe(false);
    expect(errors.isHandlerStatus('404')).toBe(false);
  });

  it('an exception reply may also carry 500, 501 (not enabled), 502 and 504', () => {
    const extra = [500, 501, 502, 504];
    for (let s = 0; s < 1000; s++) expect(errors.isExceptionStatus(s)).toBe(errors.isHandlerStatus(s) || extra.includes(s));
  });
});
