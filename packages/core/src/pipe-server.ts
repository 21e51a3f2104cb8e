import { EventEmitter } from 'node:events';
import { NAME_PATTERN } from '@restpipe/certs/names';
import { ConfigError, InvalidArgumentError, PeerUnavailableError, TooManyInFlightError, TlsError, UnknownClientError, type Hello } from '@restpipe/wire';
import { ClientRoster, type ClientInfo, type OfflineClientInfo } from './client-roster.js';
import { PipeConnection } from './connection.js';
import { DefaultHandler } from './default-handler.js';
import { diagnostics, publish } from './diagnostics.js';
import type { EventHandler, Peer } from './event-handler.js';
import { announceConnect, announceDisconnect, closeHandler, initHandler, type PeerOwner } from './hooks.js';
import { peerNameFromCertificate } from './identity.js';
import { silentLogger, type Logger } from './logger.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, resolvePipeOptions, type PipeOptions, type ResolvedPipeOptions, type TlsMaterial } from './options.js';
import type { PipeRequest, PipeResponse } from './request.js';
import { CloseReason, ConnectionState } from './state.js';
import { listenTls, TICKET_KEYS_BYTES, type TlsListener, type TlsRefusal, type Transport } from './transport.js';
import { Waiters } from './waiters.js';
import type { DurableOptions } from './durable/durable-options.js';
import type { Durable } from './durable/durable.js';
import type { EnqueueRequest } from './durable/job-request.js';
import type { JobView } from './durable/job-view.js';
import { NodeJobs } from './durable/node-jobs.js';
import type { BroadcastOutcome, RemotePeers } from './cluster/remote-peers.js';
import { routeRequest, RouteTally, type RouteContext } from './cluster/route.js';
import { broadcastLocal, serverSide, type ServerSide } from './cluster/server-side.js';
import { releasingBody } from './streams/stream-source.js';

const HEX = /^[0-9a-f]+$/i;

/**
 * A certificate serial as the number it is, so that any spelling (case, leading
 * zeros) of `revokedSerials` matches Node's spelling of a peer's serial. How a
 * serial is written down (index.json, the CRL) is rp-certs' rule: `normalizeSerial`
 * in @restpipe/certs. Undefined for what is no hex serial.
 */
function serialValue(hex: string | undefined): bigint | undefined {
  return hex !== undefined && HEX.test(hex) ? BigInt(`0x${hex}`) : undefined;
}

function checkTicketKeys(keys: Buffer | undefined): Buffer | undefined {
  if (keys !== undefined && (!Buffer.isBuffer(keys) || keys.length !== TICKET_KEYS_BYTES)) {
    throw new ConfigError(`ticketKeys must be a Buffer of exactly ${TICKET_KEYS_BYTES} bytes`);
  }
  return keys;
}

/**
 * The serials to refuse, as numbers. Fixed ticket keys with a CRL but no serials
 * would let a revoked client resume a session from before the CRL: refused.
 */
function revokedSet(tls: TlsMaterial | undefined, ticketKeys: Buffer | undefined, serials: Iterable<string> | undefined): ReadonlySet<bigint> {
  if (serials === undefined && ticketKeys !== undefined && tls?.crl) {
    throw new ConfigError('ticketKeys with tls.crl needs revokedSerials (the serials on that CRL): a resumed TLS session skips OpenSSL\'s CRL check');
  }
  return new Set([...(serials ?? [])].map((serial) => {
    const value = serialValue(serial);
    if (value === undefined) throw new ConfigError(`revokedSerials: ${JSON.stringify(serial)} is not a hex serial`);
    return value;
  }));
}

/** Requests waiting for absent clients, all names together: this many times `maxInFlight`. */
const MAX_WAITING_NAMES_FACTOR = 8;

export const DEFAULT_LISTEN_HOST = '0.0.0.0';
export const DEFAULT_LISTEN_PORT = 1234;

export interface PipeServerOptions extends PipeOptions, DurableOptions {
  /** @default '0.0.0.0' */
  host?: string | undefined;
  /** 0 picks a free port. @default 1234 */
  port?: number | undefined;
  /**
   * 48 bytes for TLS session tickets. Give the same keys to a restarted server and
   * its clients resume instead of doing full handshakes. A resumed session skips
   * OpenSSL's CRL check, so with `tls.crl` give `revokedSerials` too (else ConfigError).
   * Kept across reload(). @default random per process, and new random keys on every reload()
   */
  ticketKeys?: Buffer | undefined;
  /**
   * Serials (hex, any case) of certificates refused on every accept, resumed sessions
   * included: normally the serials on `tls.crl`. Checked by us, not by OpenSSL, so they
   * still hold when the CRL is withheld from OpenSSL (a stale CRL refuses everyone there).
   * @default none
   */
  revokedSerials?: Iterable<string> | undefined;
}


/**
 * Accepts mutual-TLS pipe connections and routes requests to clients by their
 * certificate name. Emits `connect` (peer), `disconnect` (peer, reason),
 * `refused` (error, address) and `error` (refusals too, only when someone listens).
 */
export class PipeServer extends EventEmitter {
  readonly options: ResolvedPipeOptions;
  readonly handler: EventHandler;
  readonly #host: string;
  readonly #port: number;
  #ticketKeys: Buffer | undefined;
  readonly #logger: Logger;
  /** Serials on the CRL loaded at start or by reload(): checked on every accept, resumed sessions too. */
  #revoked: ReadonlySet<bigint>;
  /** Open connections by client name: at most one per name. */
  readonly #byName = new Map<string, PipeConnection>();
  /** Every live connection, handshaking ones included. */
  readonly #live = new Set<PipeConnection>();
  /** Names that have connected since start: tells "unknown" from "away". */
  readonly #known = new Set<string>();
  readonly #roster = new ClientRoster();
  readonly #arrivals = new Waiters<string, PipeConnection>();
  #generation = 0;
  #listener: TlsListener | undefined;
  #closing = false;
  readonly #jobs: NodeJobs;
  /** The cluster (SPEC §11), when this node is in one: how clients of other nodes are reached. */
  #route: RouteContext | undefined;

  constructor(options: PipeServerOptions) {
    super();
    this.options = resolvePipeOptions(options);
    this.handler = options.handler ?? new DefaultHandler('server');
    this.#host = options.host ?? DEFAULT_LISTEN_HOST;
    this.#port = options.port ?? DEFAULT_LISTEN_PORT;
    this.#ticketKeys = checkTicketKeys(options.ticketKeys);
    this.#revoked = revokedSet(options.tls, options.ticketKeys, options.revokedSerials);
    this.#logger = options.logger ?? silentLogger;
    this.#jobs = new NodeJobs(options);
  }

  /** Starts listening; resolves with the bound address. */
  async listen(): Promise<{ host: string; port: number }> {
    this.#openJobs();
    try {
      await this.#listen();
    } catch (error) {
      this.#jobs.close(); // release the data directory: a retry in this process may open it again
      throw error;
    }
    this.#logger.info({ address: this.#listener!.address }, 'pipe listening');
    return this.#listener!.address;
  }

  async #listen(): Promise<void> {
    await initHandler(this.handler, this.#logger);
    this.#listener = await listenTls(
      { host: this.#host, port: this.#port, tls: this.options.tls, handshakeTimeoutMs: this.options.handshakeTimeoutMs, ticketKeys: this.#ticketKeys },
      (transport) => this.#onTransport(transport),
      (refusal) => this.#onRefused(refusal),
      (error) => this.#onListenerError(error),
    );
  }

  /** With a `dataDir`, the store: StoreError (one line naming the directory) if it cannot be used. */
  #openJobs(): void {
    const PREFIX = 'client/';
    this.#jobs.open({
      owner: this,
      logger: this.#logger,
      options: this.options,
      handler: this.handler,
      host: {
        connectedTargets: () => this.#reachableNames().map((name) => PREFIX + name),
        isConnected: (target) => target.startsWith(PREFIX) && this.#reachable(target.slice(PREFIX.length)),
        send: (target, request) => this.#send(target.slice(PREFIX.length), request),
        notify: (name, hold) => this.#byName.get(name)?.sendHoldNotice(hold) ?? false,
        envFor: (name) => ({
          peer: { name, address: this.#byName.get(name)?.peer.address ?? '' },
          pipe: { request: (request) => this.request(name, request) },
        }),
      },
    });
  }

  /**
   * Queues the request as a durable job for client `name` (SPEC §8): resolves with its id
   * once it is on disk. A client that has never connected is no error: the job waits.
   * NotEnabledError without a `dataDir`; JobQueueFullError past `maxJobs`.
   */
  enqueue(name: string, request: EnqueueRequest): Promise<string> {
    if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
      return Promise.reject(new InvalidArgumentError(`a client name must match ${NAME_PATTERN.source}, got ${JSON.stringify(name)}`));
    }
    return this.#jobs.enqueue(`client/${name}`, request);
  }

  /** The job, as `GET /_rp/jobs/ID` shows it; undefined for an unknown id. */
  job(id: string): JobView | undefined {
    return this.#jobs.job(id);
  }

  /** The durable side, when open: what the gateway's job routes use. */
  get durable(): Durable | undefined {
    return this.#jobs.durable;
  }

  get address(): { host: string; port: number } | undefined {
    return this.#listener?.address;
  }

  get listening(): boolean {
    return this.#listener !== undefined && !this.#closing;
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.#byName.size;
  }

  isConnected(name: string): boolean {
    return this.#byName.get(name)?.isOpen ?? false;
  }

  /** The connected clients, as `/_rp/clients` lists them. */
  clients(): ClientInfo[] {
    return [...this.#byName.values()].map((c) => this.#roster.info(c));
  }

  /** Clients seen since start and gone now, newest gone first (at most MAX_OFFLINE_CLIENTS). */
  offlineClients(): OfflineClientInfo[] {
    return this.#roster.offlineClients();
  }

  /** Forgets the offline clients (their names still answer 503, not 404); says how many. */
  clearOfflineClients(): number {
    return this.#roster.clearOffline();
  }

  /**
   * Sends an event to the client with this name. Waits up to `connectWaitMs`
   * for it to connect; then UnknownClientError (never seen) or PeerUnavailableError.
   */
  request(name: string, request: PipeRequest): Promise<PipeResponse> {
    const response = releasingBody(request.body, this.#send(name, request));
    // A held event (SPEC §9) becomes a job on hold; only a node with a data directory takes holds.
    if (!this.#jobs.durable) return response;
    return response.then((r) => (r.held ? this.#jobs.settleHeld(`client/${name}`, request, r) : r));
  }

  #send(name: string, request: PipeRequest): Promise<PipeResponse> {
    const now = this.#byName.get(name);
    if (now?.isOpen) return now.request(request);
    if (this.#route) return routeRequest(this.#route, name, request);
    return this.#connectionFor(name).then((connection) => connection.request(request));
  }

  /** Connected here, or (in a cluster) to another node. */
  #reachable(name: string): boolean {
    return this.isConnected(name) || (this.#route?.remote.heldElsewhere(name) ?? false);
  }

  #reachableNames(): string[] {
    const names = new Set([...this.#byName.keys()].filter((name) => this.isConnected(name)));
    for (const name of this.#route?.remote.remoteNames() ?? []) names.add(name);
    return [...names];
  }

  /**
   * Sends the event to every connected client (SPEC §11 broadcast), of every node in a
   * cluster: each answers or fails on its own, under the request's deadline.
   */
  async broadcast(request: PipeRequest): Promise<BroadcastOutcome[]> {
    const here = this.#broadcastLocal(request);
    const elsewhere = this.#route ? this.#route.remote.broadcast(request) : Promise.resolve([]);
    const [mine, theirs] = await Promise.all([here, elsewhere]);
    const names = new Set(mine.map((outcome) => outcome.name));
    return [...mine, ...theirs.filter((outcome) => !names.has(outcome.name))];
  }

  #broadcastLocal(request: PipeRequest): Promise<BroadcastOutcome[]> {
    return broadcastLocal(this.#byName, request);
  }

  /**
   * Joins a cluster (SPEC §11), once: requests for clients not connected here go through
   * `remote`. Returns what the cluster may do to this server.
   */
  attachCluster(remote: RemotePeers): ServerSide {
    if (this.#route) throw new ConfigError('this server is already in a cluster');
    this.#route = {
      remote,
      local: (name) => this.#byName.get(name),
      knownHere: (name) => this.#known.has(name),
      connectWaitMs: this.options.connectWaitMs,
      maxPerName: this.options.maxInFlight,
      maxTotal: this.options.maxInFlight * MAX_WAITING_NAMES_FACTOR,
      routing: new RouteTally(),
    };
    return serverSide(this.#byName, this.#jobs);
  }

  async #connectionFor(name: string): Promise<PipeConnection> {
    const now = this.#byName.get(name);
    if (now?.isOpen) return now;
    // Each waiting request holds its body: as many as may be in flight to one client, and a bound for all.
    if (this.#arrivals.count(name) >= this.options.maxInFlight || this.#arrivals.size >= this.options.maxInFlight * MAX_WAITING_NAMES_FACTOR) {
      throw new TooManyInFlightError(`too many requests already waiting for ${name} to connect`);
    }
    const later = this.#closing ? undefined : await this.#arrivals.wait(name, this.options.connectWaitMs);
    if (later?.isOpen) return later;
    if (this.#known.has(name)) throw new PeerUnavailableError(`client ${name} is not connected`);
    throw new UnknownClientError(`no client named ${name} has connected`);
  }

  /**
   * New certificate, key, CA and CRL for new handshakes; healthy connections
   * stay. Connections whose certificate serial is in `revokedSerials` (hex, as
   * read from the new CRL) are told Goaway `revoked` and closed. `ticketKeys`
   * replaces the keys given at construction (kept otherwise).
   */
  reload(tls: TlsMaterial, revokedSerials?: Iterable<string>, ticketKeys?: Buffer): number {
    resolvePipeOptions({ tls });
    const keys = ticketKeys === undefined ? this.#ticketKeys : checkTicketKeys(ticketKeys);
    const revoked = revokedSet(tls, keys, revokedSerials);
    this.#listener?.reload(tls, keys);
    this.#ticketKeys = keys;
    this.#revoked = revoked;
    let closed = 0;
    for (const connection of this.#live) {
      if (this.#isRevoked(connection.peerCertificate)) {
        connection.goaway(CloseReason.REVOKED, 'certificate revoked');
        closed += 1;
      }
    }
    this.#logger.info({ revokedClosed: closed }, 'tls material reloaded');
    return closed;
  }

  /** The listening socket failed to accept (ENOMEM, ENOBUFS, ...): it keeps listening. */
  #onListenerError(error: Error): void {
    const { code, syscall } = error as NodeJS.ErrnoException;
    this.#logger.error({ code, syscall, err: error.message }, 'pipe listener error');
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** `peer`: the name its certificate gave, when the refusal came after the handshake. */
  #onRefused({ error, remoteAddress }: TlsRefusal, peer?: string): void {
    this.#logger.warn({ address: remoteAddress, code: (error as { code?: string }).code, err: error.message }, 'pipe connection refused');
    publish(diagnostics.connectFail, { owner: this, error, address: remoteAddress, peer });
    this.emit('refused', error, remoteAddress);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  #isRevoked(certificate: Transport['peerCertificate']): boolean {
    const serial = serialValue(certificate.serialNumber);
    return serial !== undefined && this.#revoked.has(serial);
  }

  #onTransport(transport: Transport): void {
    if (this.#isRevoked(transport.peerCertificate)) {
      const how = transport.resumed ? 'resumed session' : 'full handshake';
      this.#onRefused({ error: new TlsError(`certificate revoked (checked on accept, ${how})`), remoteAddress: transport.remoteAddress }, peerNameFromCertificate(transport.peerCertificate));
      transport.destroy();
      return;
    }
    const name = peerNameFromCertificate(transport.peerCertificate);
    if (!name || this.#closing) {
      const why = name ? 'refused: shutting down' : 'refused: certificate names no one';
      this.#logger.warn({ address: transport.remoteAddress }, why);
      publish(diagnostics.refused, { owner: this, address: transport.remoteAddress, peer: name, reason: why.slice(9) });
      transport.destroy();
      return;
    }
    const connection = new PipeConnection({
      role: 'server', transport, options: this.options, handler: this.handler,
      generation: ++this.#generation, logger: this.#logger, owner: this, idempotency: this.#jobs.gate, holds: this.#jobs.holds,
    });
    connection.on('holdNotice', (hold: string) => {
      this.#jobs.holdNotice(`client/${name}`, hold);
      this.#route?.remote.holdNotice(name, hold);
    });
    this.#live.add(connection);
    connection.once('close', (reason: string, error: Error | undefined, wasOpen: boolean) => {
      // Closed before it opened (no Hello, a bad one, a timeout): refused, under the name its certificate gave.
      if (!wasOpen) publish(diagnostics.refused, { owner: this, address: transport.remoteAddress, peer: name, reason: error ? `${reason}: ${error.message}` : reason });
      this.#onClose(connection, reason, error, wasOpen);
    });
    connection.awaitHello().then(
      (hello) => this.#register(connection, name, hello),
      (error: Error) => this.#logger.warn({ address: transport.remoteAddress, name, err: error.message }, 'hello failed'),
    );
  }

  #register(connection: PipeConnection, name: string, hello: Hello): void {
    // The Hello resolves a turn after it was read: what came with it in the same chunk
    // (garbage, a second Hello) may have closed the connection since. A connection that
    // is no longer handshaking is never registered: no entry, no `connect`, and the
    // healthy connection of that name is not replaced by it.
    if (connection.state !== ConnectionState.HANDSHAKING) {
      this.#logger.debug({ peer: name, address: connection.peer.address, state: connection.state }, 'hello arrived on a connection already closing: not registered');
      return;
    }
    if (this.#closing) {
      connection.goaway(CloseReason.SHUTDOWN, 'server is shutting down');
      return;
    }
    const previous = this.#byName.get(name);
    connection.acceptHello(hello, name);
    this.#byName.set(name, connection);
    this.#known.add(name);
    // Never wait for the old connection: the new one is already in service.
    previous?.goaway(CloseReason.DUPLICATE_IDENTITY, `a newer connection named ${name} replaced this one`);
    // The old one's disconnect is told first, now, so that `disconnect` and onDisconnect of
    // a name never come after the `connect` and onConnect that replaced it.
    if (previous) this.#announceDisconnect(previous, CloseReason.DUPLICATE_IDENTITY);
    // After the old one went offline: the name is online, and only online.
    this.#roster.online(connection, name, hello.software);
    const peer = connection.peer;
    this.#logger.info({ peer: name, address: peer.address, generation: connection.generation, replaced: !!previous }, 'client connected');
    announceConnect(this.#peerOwner, peer);
    this.#arrivals.notify(name, connection);
    this.#jobs.peerConnected(`client/${name}`);
  }

  #onClose(connection: PipeConnection, reason: string, error: Error | undefined, wasOpen: boolean): void {
    this.#live.delete(connection);
    const peer: Peer = connection.peer;
    if (this.#byName.get(peer.name) === connection) this.#byName.delete(peer.name);
    if (!wasOpen) return;
    this.#logger.info({ peer: peer.name, generation: connection.generation, reason, err: error?.message }, 'client disconnected');
    this.#announceDisconnect(connection, reason);
  }

  get #peerOwner(): PeerOwner {
    return { owner: this, handler: this.handler, logger: this.#logger };
  }

  /** Connections whose `disconnect` has been told (a replaced one, before it closes). */
  readonly #announced = new WeakSet<PipeConnection>();

  /** Emits `disconnect` and calls onDisconnect, once per connection. */
  #announceDisconnect(connection: PipeConnection, reason: string): void {
    if (this.#announced.has(connection)) return;
    this.#announced.add(connection);
    this.#roster.offline(connection);
    announceDisconnect(this.#peerOwner, connection.peer, reason);
  }

  /** Stops accepting, tells every client Goaway, waits for in-flight events, closes. */
  async drain(timeoutMs = DEFAULT_DRAIN_TIMEOUT_MS): Promise<void> {
    this.#closing = true;
    this.#arrivals.clear();
    const stopListening = this.#listener?.close();
    // Approved holds' handlers may finish too: their outcomes are kept for their senders.
    await Promise.all([...[...this.#live].map((c) => c.drain(timeoutMs)), this.#jobs.drain(timeoutMs)]);
    await this.close();
    await stopListening;
  }

  /** Closes at once; in-flight requests fail with PeerDisconnectedError. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#arrivals.clear();
    const stopListening = this.#listener?.close();
    for (const connection of this.#live) connection.destroy(undefined, CloseReason.SHUTDOWN);
    await stopListening;
    this.#jobs.close();
    await closeHandler(this.handler, this.#logger);
  }
}
