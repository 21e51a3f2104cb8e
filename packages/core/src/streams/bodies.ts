import type { Readable } from 'node:stream';
import { BodyIsStreamError } from '@restpipe/wire';
import type { EventBody } from '../api-types.js';
import { readableOf } from './stream-source.js';

/** A body that came whole: `raw` and `data` now, `stream` made when first read. */
export class SmallBody implements EventBody {
  readonly streamed = false;
  #stream: Readable | undefined;

  constructor(
    readonly mimeType: string,
    readonly raw: Buffer,
    readonly data: unknown,
  ) {}

  get size(): number {
    return this.raw.length;
  }

  get stream(): Readable {
    return (this.#stream ??= readableOf(this.raw));
  }
}

/** A body, a handler's or a response's, that comes as a stream (SPEC §12): only `stream` has it. */
export class StreamOnly {
  readonly streamed = true;

  constructor(
    readonly mimeType: string,
    readonly stream: Readable,
    readonly size: number | undefined,
  ) {}

  get raw(): Buffer {
    throw streamedBodyError();
  }

  get data(): unknown {
    throw streamedBodyError();
  }
}

export class StreamedBody extends StreamOnly implements EventBody {}

export function streamedBodyError(): BodyIsStreamError {
  return new BodyIsStreamError('this body came as a stream (SPEC §12): read it from .stream; .raw and .data hold only small bodies');
}
