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
import { beatOf, encode, parseBeat, parseCancel, parseClaim, parseHold, parseState, type BeatMessage } from './messages.js';
import { NatsLink, type ClusterTls } from './nats-link.js';
import { newer, Presence, type Claim } from './presence.js';
import { answerForwarded, Cancels } from './responder.js';
import { answerBroadcast, answerClients, gatherBroadcast, gatherClients, type ClusterClientInfo } from './scatter.js';
import { BEATS, BROADCAST, CANCELS, CLAIMS, CLIENTS, clientSubject, HOLDS, QUEUE, STATE, SYNC } from './subjects.js';

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
  readonly #side: ServerSide;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ClusterNodeOptions) {
    this.#options = options;
    this.#self = options.nodeId;
    this.#presence = new Presence(this.#self);
    this.#link = new NatsLink({
      servers: options.servers, tls: options.tls, name: `rp-server ${this.#self}`, logger: options.logger,
      onUp: (nc, first) => this.#onUp(nc, first),
      onDown: () => this.#forwarder.clusterLost(),
    });
    this.#forwarder = new Forwarder({
      owner: options.server, self: this.#self, presence: this.#presence,
      defaultTimeoutMs: options.server.options.timeoutMs, connection: () => this.#link.connection,
    });
    this.#side = options.server.attachCluster(this);
    options.server.on('connect', (peer: Peer) => this.#claimLocal(peer));
    options.server.on('disconnect', (peer: Peer) => this.#releaseLocal(peer));
  }

  get node(): string {
    return this.#self;
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
    const nc = this.#link.connection;
    for (const claim of this.#local.values()) nc?.publish(CLAIMS, encode({ name: claim.name, node: this.#self, epoch: claim.epoch, gone: true }));
    this.#arrivals.clear();
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
    this.#link.connection?.publish(HOLDS, encode({ node: this.#self, name, hold }));
  }

  async broadcast(request: PipeRequest): Promise<BroadcastOutcome[]> {
    const nc = this.#link.connection;
    if (!nc) return [];
    const timeoutMs = request.timeoutMs ?? this.#options.server.options.timeoutMs;
    return gatherBroadcast(this.#options.server, nc, this.#self, this.#presence.nodes().length, request, timeoutMs);
  }

  // Views.

  /** Every node's clients, each with its node: the others' as they answer within a second. */
  async clients(): Promise<ClusterClientInfo[]> {
    const mine = this.#options.server.clients().map((client) => ({ ...client, node: this.#self }));
    const nc = this.#link.connection;
    if (!nc) return mine;
    return [...mine, ...(await gatherClients(this.#options.server, nc, this.#self, this.#presence.nodes().length))];
  }

  view(): ClusterView {
    const others = this.#presence.nodes().map(({ node, clients, since }) => ({ node, clients, since }));
    return {
      node: this.#self,
      nats: this.up ? 'connected' : 'disconnected',
      nodes: [{ node: this.#self, clients: this.#local.size, since: this.#since }, ...others],
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
    claim.sub?.unsubscribe();
    claim.sub = nc.subscribe(clientSubject(claim.name, this.#self), {
      queue: QUEUE,
      callback: (error, msg) => {
        if (!error) answerForwarded(this.#options.server, nc, this.#side, this.#cancels, claim.name, msg);
      },
    });
    nc.flush().then(
      () => {
        if (this.#local.get(claim.name) === claim) nc.publish(CLAIMS, encode({ name: claim.name, node: this.#self, epoch: claim.epoch }));
      },
      () => undefined,
    );
  }

  #releaseLocal(peer: Peer): void {
    const claim = this.#local.get(peer.name);
    if (claim?.peer !== peer) return;
    this.#drop(claim);
    this.#link.connection?.publish(CLAIMS, encode({ name: claim.name, node: this.#self, epoch: claim.epoch, gone: true }));
  }

  #drop(claim: LocalClaim): void {
    this.#local.delete(claim.name);
    claim.sub?.unsubscribe();
    claim.sub = undefined;
    this.#presence.release(claim);
  }

  // What the other nodes say.

  #onUp(nc: NatsConnection, first: boolean): void {
    const maxPayload = nc.info?.max_payload ?? 0;
    const needed = this.#options.server.options.maxEventBytes + 64 * 1024;
    if (maxPayload > 0 && maxPayload < needed) {
      this.#options.logger.error({ maxPayload, needed }, 'cluster: nats-server max_payload is below --max-event-bytes plus 64 KiB: larger events to other nodes answer 413; raise max_payload (README, Cluster)');
    }
    if (first) this.#subscribe(nc);
    for (const claim of this.#local.values()) this.#announce(nc, claim);
    nc.publish(SYNC, encode({ node: this.#self }));
    this.#beat(nc);
  }

  #subscribe(nc: NatsConnection): void {
    const on = (subject: string, handle: (msg: Msg) => void): void => {
      nc.subscribe(subject, {
        callback: (error, msg) => {
          if (error) return;
          try {
            handle(msg);
          } catch {
            countCluster(this.#options.server, 'dropped');
          }
        },
      });
    };
    on(CLAIMS, (msg) => this.#onClaim(parseClaim(msg.data)));
    on(BEATS, (msg) => this.#onBeat(parseBeat(msg.data)));
    on(STATE, (msg) => {
      const state = parseState(msg.data);
      this.#presence.see(state.seen);
      this.#onBeat(state);
    });
    on(SYNC, () => nc.publish(STATE, encode({ ...beatOf(this.#self, this.#since, this.#local.values()), seen: this.#presence.seenNames() })));
    on(CLIENTS, (msg) => answerClients(msg, this.#self, this.#options.server.clients()));
    on(BROADCAST, (msg) => void answerBroadcast(this.#options.server, msg, this.#self, this.#side));
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
    if (claim.gone) {
      this.#presence.release(claim);
      return;
    }
    this.#presence.see([claim.name]);
    if (this.#presence.claim(claim)) this.#took(claim);
    else this.#contest(claim);
  }

  #onBeat(beat: BeatMessage): void {
    if (beat.node === this.#self) return;
    const { claimed } = this.#presence.beat(beat.node, beat.since, beat.claims, performance.now());
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
    if (mine && newer(mine, claim)) this.#link.connection?.publish(CLAIMS, encode({ name: mine.name, node: this.#self, epoch: mine.epoch }));
  }

  #tick(): void {
    const nc = this.#link.connection;
    if (nc) this.#beat(nc);
    const { nodes } = this.#presence.expire(performance.now(), NODE_LOST_MS);
    for (const node of nodes) {
      this.#options.logger.warn({ node }, 'cluster: node lost (no heartbeat); its clients count as gone');
      this.#forwarder.holderLost(node);
    }
  }

  #beat(nc: NatsConnection): void {
    nc.publish(BEATS, encode(beatOf(this.#self, this.#since, this.#local.values())));
  }
}
