/**
 * Error classes are recognised by brand, not by prototype. A handler may load a
 * copy of restpipe of its own (tsx does, for a `--handler file.ts`), and the
 * errors it throws must still be known for what they are: a ForbiddenError from
 * that copy is 403, not a handler crash.
 *
 * A branded class carries `Symbol.for('restpipe.error.NAME')` on its prototype.
 * `Symbol.for` keys are shared by every copy in the process, so each copy sets and
 * reads the same ones; `RpError`'s static `Symbol.hasInstance` makes `instanceof`
 * check them. A class that was never branded (a user's own subclass) keeps the
 * ordinary prototype check.
 */
const BRANDS = new WeakMap<object, symbol>();

/** The process-wide key of the class named `name`. */
export function brandKey(name: string): symbol {
  return Symbol.for(`restpipe.error.${name}`);
}

/** Brands `cls` under `name`: its instances, from any copy, pass `instanceof` on it. */
export function brand(cls: abstract new (...args: never[]) => unknown, name: string): void {
  const key = brandKey(name);
  Object.defineProperty(cls.prototype, key, { value: true });
  BRANDS.set(cls, key);
}

/**
 * `value instanceof cls`, by brand when `cls` has one. The brand sits on prototypes,
 * never on an instance itself; the prototype that owns it is no instance (as with
 * `instanceof`: `C.prototype instanceof C` is false).
 */
export function hasBrand(cls: object, value: unknown): boolean {
  const key = BRANDS.get(cls);
  if (key === undefined) return Function.prototype[Symbol.hasInstance].call(cls, value);
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[key] === true && !Object.hasOwn(value, key);
}
