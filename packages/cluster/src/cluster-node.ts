import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  NOBODY,
  Waiters,
  type BroadcastOutcome,
  type Logger,
  type Peer,
  type PipeRequest,
  type PipeResponse,
  type PipeServer,
  type RemotePeers,
  type ServerSide,
} from '@restpipe/core';
import { countCluster } from './cluster-diagnostics.js';
import { Forwarder } from './forwarder.js';
import { parseBeat, parseCancel, parseClaim, parseHold, parseState, type BeatMessage } from './messages.js';
import { NatsLink, type ClusterTls } from './nats-link.js';
import { newer, Presence, type Claim } from './presence.js';
import { Publisher } from './publisher.js';
import { subscribeSafely } from './safe-subscribe.js';
import { RelayStreams } from './relay-streams.js';
import { answerForwarded, Cancels, type HolderContext } from './responder.js';
import { answerBroadcast, answerClients, broadcastElsewhere, gatherClients, type ClusterClientInfo } from './scatter.js';
import { BEATS, BROADCAST, CANCELS, CLAIMS, CLIENTS, clientSubject, HOLDS, QUEUE, STATE, SYNC } from './subjects.js';

/** A node that hears its own id from another process says so at most this often. */
const SAME_ID_WARNING_MS = 10_000;

export interface ClusterNodeOptions {
  readonly server: PipeServer;
  /** `nats://H:P` URLs of the cluster's servers (`tls://` too). */
  readonly servers: readonly string[];
  readonly tls?: ClusterTls | undefined;
  /** This node's name in the cluster (`--node-id`): unique per node. */
  readonly nodeId: string;
  readonly logger: Logger;
}

/** "No responders" this soon after a claim is retried whatever --connect-wait-ms says (LESSONS: nats-server #1142). */
export const FRESH_CLAIM_MS = 1_000;
/** Every node beats this often, listing its clients... */
export const BEAT_MS = 1_000;
/** ...and counts as lost, with every name it held, after this long unheard. */
export const NODE_LOST_MS = 3_500;

/** This node's claim of one of its own connections. */
interface LocalClaim extends Claim {
  readonly peer: Peer;
  readonly generation: number;
  sub: Subscription | undefined;
}

/** `/_rp/cluster` (SPEC §11). */
export interface ClusterView {
  node: string;
  nats: 'connected' | 'disconnected';
  nodes: Array<{ node: string; clients: number; since: string }>;
}

/**
 * One rp-server's place in a cluster on NATS (SPEC §11): it claims its clients' names with
 * epochs (the newest claim wins; an older holder is fenced with Goaway duplicate_identity),
 * answers requests for them from other nodes, and forwards requests for names held elsewhere.
 */
export class ClusterNode implements RemotePeers {
  readonly #options: ClusterNodeOptions;
  readonly #self: string;
  readonly #since = new Date().toISOString();
  readonly #presence: Presence;
  readonly #local = new Map<string, LocalClaim>();
  readonly #arrivals = new Waiters<string, true>();
  readonly #cancels = new Cancels();
  readonly #link: NatsLink;
  readonly #forwarder: Forwarder;
  readonly #relay: RelayStreams;
  readonly #side: ServerSide;
  readonly #say: Publisher;
  #timer: NodeJS.Timeout | undefined;
  #sameIdWarnedAt = -Infinity;
  #holderContext: HolderContext | undefined;

  constructor(options: ClusterNodeOptions) {
    this.#options = options;
    this.#self = options.nodeId;
    this.#presence = new Presence(this.#self);
    this.#link = new NatsLink({
      servers: options.servers, tls: options.tls, name: `rp-server ${this.#self}`, logger: options.logger,
      onUp: (nc, fresh) => this.#onUp(nc, fresh),
      onDown: () => {
        this.#forwarder.clusterLost();
        this.#relay.lostAll();
      },
    });
    const { streamWindowBytes, maxStreamBytes, maxStreams } = options.server.options;
    this.#relay = new RelayStreams({
      owner: options.server, self: this.#self, logger: options.logger, connection: () => this.#link.connection,
      windowBytes: streamWindowBytes, maxBytes: maxStreamBytes, maxStreams,
    });
    this.#say = new Publisher(options.server, this.#self, this.#since, () => this.#link.connection);
    this.#forwarder = new Forwarder({
      owner: options.server, self: this.#self, since: this.#since, presence: this.#presence,
      defaultTimeoutMs: options.server.options.timeoutMs, connection: () => this.#link.connection,
      takesHolds: () => options.server.durable !== undefined,
      relay: this.#relay,
      cancel: (id) => this.#say.publish(CANCELS, { node: this.#self, id }),
    });
    this.#side = options.server.attachCluster(this);
    options.server.on('connect', (peer: Peer) => this.#claimLocal(peer));
    options.server.on('disconnect', (peer: Peer) => this.#releaseLocal(peer));
  }

  get node(): string {
    return this.#self;
  }

  /** What answering forwarded requests needs. */
  get #holder(): HolderContext {
    return (this.#holderContext ??= {
      owner: this.#options.server, side: this.#side, cancels: this.#cancels, relay: this.#relay,
      defaultTimeoutMs: this.#options.server.options.timeoutMs,
    });
  }

  get up(): boolean {
    return this.#link.up;
  }

  /** Connects in the background: NATS unreachable is logged and retried, never a start failure. */
  start(): void {
    this.#link.start();
    this.#timer = setInterval(() => this.#tick(), BEAT_MS);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const claim of this.#local.values()) this.#say.gone(claim);
    this.#arrivals.clear();
    this.#relay.lostAll();
    await this.#link.close();
  }

  // RemotePeers: what the PipeServer asks of its cluster.

  forward(name: string, request: PipeRequest): Promise<PipeResponse | typeof NOBODY> {
    return this.#forwarder.forward(name, request);
  }

  async arrival(name: string, ms: number): Promise<void> {
    await this.#arrivals.wait(name, ms);
  }

  seen(name: string): boolean {
    return this.#presence.seen(name);
  }

  heldElsewhere(name: string): boolean {
    return this.#presence.heldElsewhere(name);
  }

  freshClaim(name: string): boolean {
    return this.#presence.freshClaim(name, FRESH_CLAIM_MS);
  }

  remoteNames(): Iterable<string> {
    return this.#presence.remoteNames();
  }

  holdNotice(name: string, hold: string): void {
    this.#say.publish(HOLDS, { node: this.#self, name, hold });
  }

  async broadcast(request: PipeRequest): Promise<BroadcastOutcome[]> {
    const timeoutMs = request.timeoutMs ?? this.#options.server.options.timeoutMs;
    return broadcastElsewhere(this.#options.server, this.#link.connection, this.#self, this.#presence, request, timeoutMs);
  }

  // Views.

  /** Every node's clients, each with its node: the others' as they answer within a second. */
  async clients(): Promise<ClusterClientInfo[]> {
    const mine = this.#options.server.clients().map((client) => ({ ...client, node: this.#self }));
    const nc = this.#link.connection;
    if (!nc) return mine;
    return [...mine, ...(await gatherClients(this.#options.server, nc, this.#self, this.#presence.nodeCount))];
  }

  view(): ClusterView {
    return {
      node: this.#self,
      nats: this.up ? 'connected' : 'disconnected',
      nodes: [{ node: this.#self, clients: this.#local.size, since: this.#since }, ...this.#presence.nodes()],
    };
  }

  // This node's own clients: claims.

  #claimLocal(peer: Peer): void {
    const generation = this.#side.generationOf(peer.name);
    if (generation === undefined) return;
    const claim: LocalClaim = { name: peer.name, node: this.#self, epoch: this.#presence.nextEpoch(peer.name), peer, generation, sub: undefined };
    this.#local.get(peer.name)?.sub?.unsubscribe();
    this.#local.set(peer.name, claim);
    this.#presence.claim(claim);
    this.#forwarder.nameMoved(claim.name, this.#self);
    this.#arrivals.notify(claim.name, true);
    const nc = this.#link.connection;
    if (nc) this.#announce(nc, claim);
  }

  /** Subscribes, flushes (the subscription has reached our NATS server), then tells the cluster. */
  #announce(nc: NatsConnection, claim: LocalClaim): void {
    try {
      this.#subscribeClaim(nc, claim);
    } catch (error) {
      // The link is closing: the next connection announces every claim again.
      this.#options.logger.warn({ peer: claim.name, err: (error as Error).message }, 'cluster: could not announce a client now');
    }
  }

  #subscribeClaim(nc: NatsConnection, claim: LocalClaim): void {
    claim.sub?.unsubscribe();
    const owner = this.#options.server;
    claim.sub = subscribeSafely(nc, owner, clientSubject(claim.name, this.#self), (msg) => answerForwarded(this.#holder, nc, claim.name, msg), QUEUE);
    nc.flush().then(
      () => {
        if (this.#local.get(claim.name) === claim) this.#say.claim(claim, nc);
      },
      () => undefined,
    );
  }

  #releaseLocal(peer: Peer): void {
    const claim = this.#local.get(peer.name);
    if (claim?.peer !== peer) return;
    this.#drop(claim);
    this.#say.gone(claim);
  }

  #drop(claim: LocalClaim): void {
    this.#local.delete(claim.name);
    claim.sub?.unsubscribe();
    claim.sub = undefined;
    this.#presence.release(claim);
  }

  // What the other nodes say.

  /** `fresh`: a new connection, with no subscription yet; else one nats.js reconnected (it restores them). */
  #onUp(nc: NatsConnection, fresh: boolean): void {
    const maxPayload = nc.info?.max_payload ?? 0;
    const needed = this.#options.server.options.maxEventBytes + 64 * 1024;
    if (maxPayload > 0 && maxPayload < needed) {
      this.#options.logger.error({ maxPayload, needed }, 'cluster: nats-server max_payload is below --max-event-bytes plus 64 KiB: larger events to other nodes answer 413; raise max_payload (README, Cluster)');
    }
    if (fresh) this.#subscribe(nc);
    this.#relay.reconnected();
    for (const claim of this.#local.values()) this.#announce(nc, claim);
    this.#say.publish(SYNC, { node: this.#self }, nc);
    this.#beat();
  }

  #subscribe(nc: NatsConnection): void {
    const on = (subject: string, handle: (msg: Msg) => void): void => void subscribeSafely(nc, this.#options.server, subject, handle);
    this.#relay.subscribe(nc);
    on(CLAIMS, (msg) => this.#onClaim(parseClaim(msg.data)));
    on(BEATS, (msg) => this.#onBeat(parseBeat(msg.data)));
    on(STATE, (msg) => {
      const state = parseState(msg.data);
      this.#presence.see(state.seen);
      this.#onBeat(state);
    });
    on(SYNC, () => this.#say.state([...this.#local.values()], this.#presence.seenNames()));
    on(CLIENTS, (msg) => answerClients(msg, this.#self, this.#options.server.clients(), this.#link.connection?.info?.max_payload));
    on(BROADCAST, (msg) => {
      answerBroadcast(this.#options.server, msg, this.#self, this.#side).catch(() => countCluster(this.#options.server, 'dropped'));
    });
    on(HOLDS, (msg) => {
      const notice = parseHold(msg.data);
      if (notice.node !== this.#self) this.#side.holdNotice(notice.name, notice.hold);
    });
    on(CANCELS, (msg) => {
      const cancel = parseCancel(msg.data);
      this.#cancels.cancel(`${cancel.node}/${cancel.id}`);
    });
  }

  #onClaim(claim: Claim & { gone?: boolean | undefined }): void {
    if (claim.node === this.#self) return;
    // Known from now on, so that its claims expire with it if it never beats.
    this.#presence.heard(claim.node, undefined, performance.now());
    if (claim.gone) {
      this.#presence.release(claim);
      return;
    }
    this.#presence.see([claim.name]);
    if (this.#presence.claim(claim)) this.#took(claim);
    else this.#contest(claim);
  }

  #onBeat(beat: BeatMessage): void {
    if (beat.node === this.#self) {
      if (beat.since !== this.#since) this.#sameId(beat.since);
      return;
    }
    const before = this.#presence.sinceOf(beat.node);
    // Restarted with the same id (faster than it could be missed): what went to its old process is lost.
    if (before !== undefined && before !== beat.since) this.#lost(beat.node, 'restarted');
    const { claimed } = this.#presence.beat(beat.node, beat.since, beat.claims, performance.now(), beat.partial);
    for (const name of claimed) this.#took(this.#presence.holder(name)!);
    if (this.#local.size === 0) return;
    const taken = new Set(claimed);
    for (const claim of beat.claims) if (!taken.has(claim.name)) this.#contest(claim);
  }

  /** Another node holds `claim.name` with the newest claim: ours, if any, is fenced. */
  #took(claim: Claim): void {
    const mine = this.#local.get(claim.name);
    if (mine && newer(claim, mine)) {
      this.#drop(mine);
      this.#side.fence(claim.name, mine.generation, `${claim.name} connected to node ${claim.node}, which replaced this connection`);
      this.#options.logger.info({ peer: claim.name, node: claim.node }, 'cluster: a newer connection elsewhere replaced this client');
    }
    this.#forwarder.nameMoved(claim.name, claim.node);
    this.#arrivals.notify(claim.name, true);
    this.#side.arrivedElsewhere(claim.name);
  }

  /** An older claim than ours: said again, so that its node fences its own connection. */
  #contest(claim: Claim): void {
    const mine = this.#local.get(claim.name);
    if (mine && newer(mine, claim)) this.#say.claim(mine);
  }

  /** Another process speaks with this node's id: both would take its clients' requests. */
  #sameId(since: string): void {
    const now = performance.now();
    if (now - this.#sameIdWarnedAt < SAME_ID_WARNING_MS) return;
    this.#sameIdWarnedAt = now;
    this.#options.logger.error({ node: this.#self, otherSince: since, since: this.#since }, 'cluster: another rp-server uses this --node-id; give every node its own');
  }

  #lost(node: string, why: string): void {
    this.#presence.dropNode(node);
    this.#options.logger.warn({ node, why }, 'cluster: node lost; its clients count as gone');
    this.#forwarder.holderLost(node);
    this.#relay.lostNode(node);
  }

  #tick(): void {
    this.#beat();
    const { nodes } = this.#presence.expire(performance.now(), NODE_LOST_MS);
    for (const node of nodes) {
      this.#options.logger.warn({ node }, 'cluster: node lost (no heartbeat); its clients count as gone');
      this.#forwarder.holderLost(node);
      this.#relay.lostNode(node);
    }
  }

  #beat(): void {
    this.#say.beat([...this.#local.values()]);
  }
}
