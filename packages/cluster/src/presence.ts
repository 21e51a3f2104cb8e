/** A node's claim on a client name: the newest epoch wins, cluster-wide (SPEC §11). */
export interface Claim {
  readonly name: string;
  readonly node: string;
  readonly epoch: number;
}

/** Another node, as its heartbeats show it. */
interface NodeRecord {
  readonly node: string;
  /** When that node joined, ISO 8601 (when its heartbeats said so; else when it was first heard of). */
  since: string;
  /** `since` is the node's own word, from a heartbeat. */
  confirmed: boolean;
  /** performance.now() of its last heartbeat. */
  heardAt: number;
}

/** Another node as `/_rp/cluster` shows it: `clients`, the names it holds now. */
export interface NodeEntry {
  readonly node: string;
  readonly clients: number;
  readonly since: string;
}

/** Names remembered as seen, at most: past it the oldest are forgotten (they answer 404 again). */
export const MAX_SEEN_NAMES = 100_000;

/** `a` is a newer claim than `b`: a higher epoch, or the same epoch from a higher node id. */
export function newer(a: Claim, b: Claim): boolean {
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.node > b.node);
}

/**
 * Who holds which name, as far as this node knows: its own claims, the claims other
 * nodes announced, and the names seen since this node joined. It is a cache of what the
 * others say, repaired by every heartbeat; never a source of truth that outlives them.
 */
export class Presence {
  readonly #self: string;
  readonly #holders = new Map<string, Claim>();
  readonly #seen = new Set<string>();
  readonly #nodes = new Map<string, NodeRecord>();
  /** performance.now() when each holder's claim was taken here. */
  readonly #claimedAt = new Map<string, number>();
  #clock = 0;

  constructor(self: string) {
    this.#self = self;
  }

  /**
   * The epoch of a new claim of `name` by this node: past every claim of it known here, and
   * past this node's own clock (a hybrid clock: wall time, never going back).
   */
  nextEpoch(name: string): number {
    this.#clock = Math.max(Date.now(), this.#clock + 1, (this.#holders.get(name)?.epoch ?? 0) + 1);
    return this.#clock;
  }

  /** Takes a claim; true when it is now the newest for its name. */
  claim(claim: Claim): boolean {
    this.#see(claim.name);
    this.#clock = Math.max(this.#clock, claim.epoch);
    const current = this.#holders.get(claim.name);
    if (current && !newer(claim, current)) return false;
    this.#holders.set(claim.name, claim);
    this.#claimedAt.set(claim.name, performance.now());
    return true;
  }

  /** Forgets a claim, if it is still the newest for its name; true when it was. */
  release(claim: Claim): boolean {
    const current = this.#holders.get(claim.name);
    if (!current || current.node !== claim.node || current.epoch !== claim.epoch) return false;
    this.#forget(claim.name);
    return true;
  }

  #forget(name: string): void {
    this.#holders.delete(name);
    this.#claimedAt.delete(name);
  }

  /** Another node claimed `name` within `ms`: its subscription may not have reached every server yet. */
  freshClaim(name: string, ms: number): boolean {
    const at = this.#claimedAt.get(name);
    return at !== undefined && this.heldElsewhere(name) && performance.now() - at < ms;
  }

  holder(name: string): Claim | undefined {
    return this.#holders.get(name);
  }

  heldElsewhere(name: string): boolean {
    const holder = this.#holders.get(name);
    return holder !== undefined && holder.node !== this.#self;
  }

  *remoteNames(): Iterable<string> {
    for (const claim of this.#holders.values()) if (claim.node !== this.#self) yield claim.name;
  }

  seen(name: string): boolean {
    return this.#seen.has(name);
  }

  seenNames(): string[] {
    return [...this.#seen];
  }

  see(names: Iterable<string>): void {
    for (const name of names) this.#see(name);
  }

  #see(name: string): void {
    if (this.#seen.has(name)) return;
    if (this.#seen.size >= MAX_SEEN_NAMES) this.#seen.delete(this.#seen.values().next().value!);
    this.#seen.add(name);
  }

  /**
   * A heartbeat: `node` holds exactly `claims` now. Returns the names it newly holds, and
   * the claims of it this node knew but the heartbeat no longer lists (released, messages lost).
   */
  beat(node: string, since: string, claims: readonly Claim[], now: number, partial = false): { claimed: string[]; released: Claim[] } {
    this.heard(node, since, now);
    const listed = new Set<string>();
    const claimed: string[] = [];
    for (const claim of claims) {
      listed.add(claim.name);
      if (this.claim(claim)) claimed.push(claim.name);
    }
    // A part of the list says nothing of what it leaves out.
    const released = partial ? [] : [...this.#holders.values()].filter((c) => c.node === node && !listed.has(c.name));
    for (const claim of released) this.#forget(claim.name);
    return { claimed, released };
  }

  /**
   * Any message from `node`: it is known from now on (so that its claims expire with it),
   * and a heartbeat refreshes it. `since` undefined: a claim, which keeps what is known.
   */
  heard(node: string, since: string | undefined, now: number): void {
    const entry = this.#nodes.get(node);
    if (!entry) {
      this.#nodes.set(node, { node, since: since ?? new Date().toISOString(), confirmed: since !== undefined, heardAt: now });
    } else if (since !== undefined) {
      entry.heardAt = now;
      entry.since = since;
      entry.confirmed = true;
    }
  }

  /** When `node` said (in a heartbeat) it joined: a new value means it restarted. */
  sinceOf(node: string): string | undefined {
    const entry = this.#nodes.get(node);
    return entry?.confirmed ? entry.since : undefined;
  }

  /** Nodes not heard from within `ms`: forgotten, with their claims, which are returned. */
  expire(now: number, ms: number): { nodes: string[]; released: Claim[] } {
    const gone = [...this.#nodes.values()].filter((entry) => now - entry.heardAt > ms).map((entry) => entry.node);
    const released: Claim[] = [];
    for (const node of gone) released.push(...this.dropNode(node));
    return { nodes: gone, released };
  }

  dropNode(node: string): Claim[] {
    this.#nodes.delete(node);
    const released = [...this.#holders.values()].filter((claim) => claim.node === node);
    for (const claim of released) this.#forget(claim.name);
    return released;
  }

  /** Every other node heard from, each with the names it holds now (claims since its last heartbeat counted). */
  nodes(): NodeEntry[] {
    const counts = new Map<string, number>();
    for (const claim of this.#holders.values()) counts.set(claim.node, (counts.get(claim.node) ?? 0) + 1);
    return [...this.#nodes.values()].map(({ node, since }) => ({ node, clients: counts.get(node) ?? 0, since }));
  }

  /** How many other nodes are heard from. */
  get nodeCount(): number {
    return this.#nodes.size;
  }

  isNode(node: string): boolean {
    return this.#nodes.has(node);
  }
}
