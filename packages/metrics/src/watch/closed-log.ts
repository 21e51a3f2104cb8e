import { flatText } from './flat-text.js';
import { Ring } from './ring.js';

/** One entry of `/_rp/connections/closed` (SPEC §13). */
export interface ClosedEntry {
  at: string;
  /** null when the handshake never named one. */
  peer: string | null;
  address: string;
  reason: string;
  refused: boolean;
}

export const CLOSED_LOG_SIZE = 1000;
/** A refusal's reason is an error message: long ones are cut. */
const MAX_REASON_CHARS = 300;

/** The last 1000 closed or refused connections, each with why. */
export class ClosedLog {
  readonly #ring = new Ring<ClosedEntry>(CLOSED_LOG_SIZE);

  get lastSeq(): number {
    return this.#ring.lastSeq;
  }

  add(peer: string | null | undefined, address: string, reason: string, refused: boolean): void {
    this.#ring.add({ at: new Date().toISOString(), peer: peer ? flatText(peer, MAX_REASON_CHARS) : null, address, reason: flatText(reason, MAX_REASON_CHARS), refused });
  }

  newest(limit = CLOSED_LOG_SIZE): ClosedEntry[] {
    return this.#ring.newest(limit).map(({ item }) => item);
  }

  since(seq: number, limit?: number): Array<ClosedEntry & { seq: number }> {
    return this.#ring.since(seq, limit).map(({ seq: n, item }) => ({ ...item, seq: n }));
  }
}
