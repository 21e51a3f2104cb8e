import type { BeginOutcome, StoredReply } from '@restpipe/store';

/** The node's idempotency records, as the inbound path uses them. */
export interface IdempotencyGate {
  /** Rejects (StoreError) when the claim could not be made durable. */
  begin(peer: string, key: string, fingerprint: string): Promise<BeginOutcome>;
  /** Never rejects: a reply that could not be kept is logged, and the key stays started. */
  finish(peer: string, key: string, reply: StoredReply): Promise<void>;
  /** Never rejects: forgets a key started here whose request had no outcome (a failure is logged; the key then stays started). */
  abandon(peer: string, key: string): Promise<void>;
}
