import { EventHandler, type EventBody, type EventContext } from './event-handler.js';

/**
 * What a node answers when no handler is given, as RestPipe did:
 * `get_time` and `get_cat`, with keys naming the answering side.
 */
export class DefaultHandler extends EventHandler {
  readonly #side: 'server' | 'client';

  constructor(side: 'server' | 'client') {
    super();
    this.#side = side;
  }

  get_time(_ctx: EventContext): Record<string, number> {
    return { [`time_from_${this.#side}`]: Date.now() / 1000 };
  }

  get_cat(_ctx: EventContext, _body: EventBody, ...parts: string[]): Record<string, string> {
    return { [`result_from_${this.#side}`]: parts.join('') };
  }
}
