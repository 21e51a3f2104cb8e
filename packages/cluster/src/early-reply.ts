import type { RelayMessage } from './relay-messages.js';

/**
 * A reply stream offered with a forwarded request, before its Reply is read. The holder
 * sends the Reply and then the body at once, and nats.js may hand this node the first data
 * before the forwarder has read the Reply: it waits here, within the window the origin
 * announced, in order. What breaks that (a gap, more than the window) marks it broken.
 */
export class EarlyReply {
  readonly kind = 'awaiting';
  readonly chunks: Buffer[] = [];
  seq = 0;
  end: { aborted: boolean; message: string } | undefined;
  broken: string | undefined;
  #bytes = 0;

  constructor(
    readonly peer: string,
    private readonly windowBytes: number,
  ) {}

  take(message: RelayMessage): void {
    if (this.broken || this.end || (message.kind !== 'data' && message.kind !== 'end')) return;
    const expected = message.kind === 'data' ? this.seq + 1 : this.seq;
    if (message.seq !== expected) this.broken = 'part of a reply stream was lost on the way';
    else if (message.kind === 'end') this.end = { aborted: message.aborted, message: message.message };
    else if (this.#bytes + message.data.length > this.windowBytes) this.broken = 'a reply stream came past its window';
    else {
      this.seq = message.seq;
      this.chunks.push(message.data);
      this.#bytes += message.data.length;
    }
  }
}
