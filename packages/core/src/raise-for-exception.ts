import { RETURN_CODES } from '@restpipe/wire';
import { failFromEnvelope } from './envelope.js';

/** The parts of a fetch `Response` this needs. */
export interface ResponseLike {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
  clone?(): ResponseLike;
}

/**
 * Throws a PipeFailError for a gateway response that failed: any non-2xx status
 * or a non-zero `X-Event-Return-Code`. Resolves quietly otherwise. Reads the
 * body of a clone when it can, so the caller can still read it.
 */
export async function raiseForException(response: ResponseLike): Promise<void> {
  const header = response.headers.get('x-event-return-code');
  const returnCode = header === null || header === '' ? undefined : Number(header);
  if (response.ok && (returnCode === undefined || returnCode === RETURN_CODES.OK)) return;
  const source = response.clone ? response.clone() : response;
  throw failFromEnvelope(await source.text(), response.status, returnCode);
}
