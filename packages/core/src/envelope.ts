import { ERROR_CODES, PipeFailError } from '@restpipe/wire';
import { cutPeerText } from './peer-text.js';

/** The JSON body of every failure: `{"exception": {...}}`. */
export interface ExceptionEnvelope {
  exception: {
    class: string;
    message: string;
    code: string;
    traceback: string;
  };
}

/** A code either side may put in an envelope; a peer's other codes become RP_ERR_REMOTE. */
const RP_CODE = /^RP_ERR_[A-Z0-9_]{1,64}$/;
/** A class name as languages spell them (`TypeError`, `requests.exceptions.HTTPError`), at most 128 characters. */
const CLASS_NAME = /^[A-Za-z_$][A-Za-z0-9_$.]{0,127}$/;
/** A peer's envelope names no class of ours that it may keep. */
const REMOTE_CLASS = 'RemoteError';
/** Longest message and traceback kept from a peer's envelope; longer ones are cut, saying how long they were. */
export const MAX_ENVELOPE_MESSAGE_LENGTH = 4096;
export const MAX_ENVELOPE_TRACEBACK_LENGTH = 65_536;
/** What stands for a thrown value (or a part of one) that cannot be printed. */
export const UNPRINTABLE = '[unprintable]';

/** `read()`, or `fallback` when it throws: a getter, a Proxy trap, a toString of a handler's value. */
export function safely<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    return fallback;
  }
}

/** Any value as text, never throwing (a Symbol, a BigInt, null, a toString that throws, a Proxy). */
function printable(value: unknown): string {
  return typeof value === 'string' ? value : safely(() => String(value), UNPRINTABLE);
}

/** The one place an envelope is put together. */
function envelope(className: string, message: string, code: string, traceback: string): ExceptionEnvelope {
  return { exception: { class: className, message, code, traceback } };
}

/**
 * Builds the envelope for any thrown value. Tracebacks only when asked for. A
 * value that names no `RP_ERR_*` code of its own gets `fallbackCode`: a handler's
 * failure by default, the gateway's own where it fails.
 */
export function envelopeOf(error: unknown, exposeTraceback: boolean, fallbackCode: string = ERROR_CODES.HANDLER): ExceptionEnvelope {
  // Never throws, whatever was thrown: every read of it may run a getter or a Proxy trap.
  if (!safely(() => error instanceof Error, false)) return envelope('Error', printable(error), fallbackCode, '');
  const thrown = error as Error & { code?: unknown };
  const code = safely(() => thrown.code, undefined);
  return envelope(
    safely(() => className(thrown), 'Error'),
    safely(() => printable(thrown.message), UNPRINTABLE),
    typeof code === 'string' && RP_CODE.test(code) ? code : fallbackCode,
    exposeTraceback ? safely(() => printable(thrown.stack ?? ''), '') : '',
  );
}

/** A far side's failure passed on as it came (class, code, traceback): failFromEnvelope undone. */
export function relayedEnvelope(error: PipeFailError): ExceptionEnvelope {
  return envelope(error.className, error.message, error.code, error.traceback);
}

function className(error: Error): string {
  const name: unknown = error.name;
  if (typeof name === 'string' && name && name !== 'Error') return name;
  const constructorName: unknown = error.constructor?.name;
  return typeof constructorName === 'string' && constructorName ? constructorName : 'Error';
}

export function envelopeBytes(error: unknown, exposeTraceback: boolean): Buffer {
  return Buffer.from(JSON.stringify(envelopeOf(error, exposeTraceback)));
}

/**
 * Reads an envelope back into a PipeFailError; tolerates bodies that are not envelopes.
 * What a peer says is bounded here, before it reaches an error, a log line or a
 * diagnostics message: a code that is no `RP_ERR_*` word of at most 64 characters is
 * RP_ERR_REMOTE, a class that is no name of at most 128 identifier characters is
 * RemoteError (no class at all: HTTPError, as for a body that is no envelope), and the
 * message and traceback are cut at 4096 and 65536 characters, saying how long they were.
 */
export function failFromEnvelope(raw: Buffer | string, status: number, returnCode?: number, replayed = false): PipeFailError {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  const e = parseEnvelope(text)?.exception;
  return new PipeFailError({
    className: typeof e?.class === 'string' ? (CLASS_NAME.test(e.class) ? e.class : REMOTE_CLASS) : 'HTTPError',
    message: typeof e?.message === 'string' ? cutPeerText(e.message, MAX_ENVELOPE_MESSAGE_LENGTH) : text.slice(0, 500) || `HTTP ${status}`,
    code: typeof e?.code === 'string' && RP_CODE.test(e.code) ? e.code : ERROR_CODES.REMOTE,
    returnCode,
    status,
    traceback: typeof e?.traceback === 'string' ? cutPeerText(e.traceback, MAX_ENVELOPE_TRACEBACK_LENGTH) : '',
    replayed,
  });
}

function parseEnvelope(text: string): Partial<ExceptionEnvelope> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Partial<ExceptionEnvelope>) : undefined;
  } catch {
    return undefined;
  }
}
