import type { NatsConnection } from '@nats-io/transport-node';
import { countCluster } from './cluster-diagnostics.js';
import { beatOf, encode } from './messages.js';
import type { Claim } from './presence.js';
import { BEATS, CLAIMS, STATE } from './subjects.js';

/** A control message fills at most this share of max_payload; more goes in several parts. */
const PART_SHARE = 0.5;
/** When the server has not said its max_payload. */
const DEFAULT_PART_BYTES = 256 * 1024;
/** What one listed name costs in a message, past its own length: quotes, commas, its epoch. */
const PER_NAME_BYTES = 24;

/**
 * Everything this node says on the control subjects. A publish never throws: one that fails
 * (the link closing, a message too large) is dropped and counted, and the heartbeat repairs
 * what it carried. Heartbeats and state past a part's size go in parts marked `partial`,
 * which receivers never read as a whole list.
 */
export class Publisher {
  constructor(
    private readonly owner: object,
    private readonly self: string,
    private readonly since: string,
    private readonly connection: () => NatsConnection | undefined,
  ) {}

  publish(subject: string, message: object, nc = this.connection()): void {
    if (!nc) return;
    try {
      nc.publish(subject, encode(message));
    } catch {
      countCluster(this.owner, 'dropped');
    }
  }

  claim(claim: Claim, nc?: NatsConnection): void {
    this.publish(CLAIMS, { name: claim.name, node: this.self, epoch: claim.epoch }, nc);
  }

  gone(claim: Claim): void {
    this.publish(CLAIMS, { name: claim.name, node: this.self, epoch: claim.epoch, gone: true });
  }

  beat(claims: readonly Claim[]): void {
    const parts = split(claims, (c) => c.name, this.#partBytes());
    for (const part of parts) this.publish(BEATS, beatOf(this.self, this.since, part, parts.length > 1));
  }

  /** The answer to a SYNC: the claims, and the names seen, in as many parts as they take. */
  state(claims: readonly Claim[], seen: readonly string[]): void {
    const bytes = this.#partBytes();
    const claimParts = split(claims, (c) => c.name, bytes);
    const seenParts = split(seen, (name) => name, bytes);
    const whole = claimParts.length === 1 && seenParts.length === 1;
    for (const part of claimParts) this.publish(STATE, { ...beatOf(this.self, this.since, part, !whole), seen: whole ? seenParts[0] : [] });
    if (!whole) for (const part of seenParts) this.publish(STATE, { ...beatOf(this.self, this.since, [], true), seen: part });
  }

  #partBytes(): number {
    const max = this.connection()?.info?.max_payload ?? 0;
    return max > 0 ? Math.floor(max * PART_SHARE) : DEFAULT_PART_BYTES;
  }
}

/** `items` in parts of about `bytes` each, at least one part (maybe empty). */
function split<T>(items: readonly T[], text: (item: T) => string, bytes: number): T[][] {
  const parts: T[][] = [[]];
  let size = 0;
  for (const item of items) {
    const cost = text(item).length + PER_NAME_BYTES;
    if (size + cost > bytes && parts.at(-1)!.length > 0) {
      parts.push([]);
      size = 0;
    }
    parts.at(-1)!.push(item);
    size += cost;
  }
  return parts;
}
