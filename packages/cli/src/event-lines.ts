import type { Logger } from '@restpipe/core';

/** pino's numeric levels. */
export const LEVELS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

export interface LineSink {
  write(line: string): unknown;
}

/**
 * The per-event records (`event done`, `event handled`, timeouts, failures) in
 * pino's exact line format, written without pino's general serializer: a busy
 * node writes one per event on each side, and pino's per-record work was the
 * largest cost of a small event after the syscalls. Their fields are flat
 * strings, numbers and booleans, with names of our own, so no redaction applies.
 */
export class EventLines implements Logger {
  readonly #minimum: number;
  /** `,"role":"server","pid":123`, as pino's `base`. */
  readonly #bindings: string;

  constructor(
    private readonly out: LineSink,
    level: string,
    base: Readonly<Record<string, string | number>>,
    /** `,"time":"..."`, as pino's timestamp functions return it. */
    private readonly time: () => string,
  ) {
    this.#minimum = LEVELS[level] ?? LEVELS['info']!;
    this.#bindings = Object.entries(base).map(([key, value]) => `,${JSON.stringify(key)}:${json(value)}`).join('');
  }

  debug(obj: object, msg?: string): void {
    this.#write(20, obj, msg);
  }

  info(obj: object, msg?: string): void {
    this.#write(30, obj, msg);
  }

  warn(obj: object, msg?: string): void {
    this.#write(40, obj, msg);
  }

  error(obj: object, msg?: string): void {
    this.#write(50, obj, msg);
  }

  #write(level: number, obj: object, msg: string | undefined): void {
    if (level < this.#minimum) return;
    let line = `{"level":${level}${this.time()}${this.#bindings}`;
    const fields = obj as Record<string, unknown>;
    for (const key in fields) {
      const value = fields[key];
      if (value !== undefined) line += keyPrefix(key) + json(value);
    }
    if (msg !== undefined) line += `,"msg":${json(msg)}`;
    this.out.write(`${line}}\n`);
  }
}

/** Printable ASCII without `"` or `\\`: quoted as it is, the usual case for ids and names. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A value as pino writes it: non-finite numbers as null. */
function json(value: unknown): string {
  if (typeof value === 'string') return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return JSON.stringify(value) ?? 'null';
}

const keyPrefixes = new Map<string, string>();

/** `,"key":`, made once per key name (the records have a handful). */
function keyPrefix(key: string): string {
  let prefix = keyPrefixes.get(key);
  if (prefix === undefined) {
    prefix = `,${JSON.stringify(key)}:`;
    if (keyPrefixes.size < 256) keyPrefixes.set(key, prefix);
  }
  return prefix;
}
