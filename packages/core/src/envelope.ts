import { ERROR_CODES, PipeFailError } from '@restpipe/wire';

/** The JSON body of every failure: `{"exception": {...}}`. */
export interface ExceptionEnvelope {
  exception: {
    class: string;
    message: string;
    code: string;
    traceback: string;
  };
}

const RP_CODE = /^RP_ERR_[A-Z0-9_]+$/;

/** Builds the envelope for any thrown value. Tracebacks only when asked for. */
export function envelopeOf(error: unknown, exposeTraceback: boolean): ExceptionEnvelope {
  if (!(error instanceof Error)) {
    return { exception: { class: 'Error', message: String(error), code: ERROR_CODES.HANDLER, traceback: '' } };
  }
  const code = (error as { code?: unknown }).code;
  return {
    exception: {
      class: className(error),
      message: error.message,
      code: typeof code === 'string' && RP_CODE.test(code) ? code : ERROR_CODES.HANDLER,
      traceback: exposeTraceback ? (error.stack ?? '') : '',
    },
  };
}

function className(error: Error): string {
  if (error.name && error.name !== 'Error') return error.name;
  return error.constructor?.name || 'Error';
}

export function envelopeBytes(error: unknown, exposeTraceback: boolean): Buffer {
  return Buffer.from(JSON.stringify(envelopeOf(error, exposeTraceback)));
}

/** Reads an envelope back into a PipeFailError; tolerates bodies that are not envelopes. */
export function failFromEnvelope(raw: Buffer | string, status: number, returnCode?: number): PipeFailError {
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  const e = parseEnvelope(text)?.exception;
  return new PipeFailError({
    className: typeof e?.class === 'string' ? e.class : 'HTTPError',
    message: typeof e?.message === 'string' ? e.message : text.slice(0, 500) || `HTTP ${status}`,
    code: typeof e?.code === 'string' ? e.code : ERROR_CODES.REMOTE,
    returnCode,
    status,
    traceback: typeof e?.traceback === 'string' ? e.traceback : '',
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
