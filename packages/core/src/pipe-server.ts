import { EventEmitter } from 'node:events';
import { PeerUnavailableError, TlsError, UnknownClientError, type Hello } from '@restpipe/wire';
import { PipeConnection } from './connection.js';
import { DefaultHandler } from './default-handler.js';
import { diagnostics, publish } from './diagnostics.js';
import type { EventHandler, Peer } from './event-handler.js';
import { closeHandler, initHandler, notifyConnect, notifyDisconnect } from './hooks.js';
import { peerNameFromCertificate } from './identity.js';
import { silentLogger, type Logger } from './logger.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, resolvePipeOptions, type PipeOptions, type ResolvedPipeOptions, type TlsMaterial } from './options.js';
import type { PipeRequest, PipeResponse } from './request.js';
import { CloseReason } from './state.js';
import { listenTls, type TlsListener, type TlsRefusal, type Transport } from './transport.js';
import { Waiters } from './waiters.js';

/** Serials compare as numbers: lower case, no leading zeros. */
export function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

export const DEFAULT_LISTEN_HOST = '0.0.0.0';
export const DEFAULT_LISTEN_PORT = 1234;

export interface PipeServerOptions extends PipeOptions {
  /** @default '0.0.0.0' */
  host?: string | undefined;
  /** 0 picks a free port. @default 1234 */
  port?: number | undefined;
  /**
   * 48 bytes for TLS session tickets. Give the same keys to a restarted server and
   * its clients resume instead of doing full handshakes. @default random per process
   */
  ticketKeys?: Buffer | undefined;
}

/** A connected client, as `/_rp/clients` lists it. */
export interface ClientInfo {
  name: string;
  address: string;
  connectedAt: string;
  inFlight: number;
  eventsIn: number;
  eventsOut: number;
  rttMs: number | null;
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
  readonly #ticketKeys: Buffer | undefined;
  readonly #logger: Logger;
  /** Serials on the last CRL loaded by reload(): checked on every accept, resumed sessions too. */
  #revoked: ReadonlySet<string> = new Set();
  /** Open connections by client name: at most one per name. */
  readonly #byName = new Map<string, PipeConnection>();
  /** Every live connection, handshaking ones included. */
  readonly #live = new Set<PipeConnection>();
  /** Names that have connected since start: tells "unknown" from "away". */
  readonly #known = new Set<string>();
  readonly #arrivals = new Waiters<string, PipeConnection>();
  #generation = 0;
  #listener: TlsListener | undefined;
  #closing = false;

  constructor(options: PipeServerOptions) {
    super();
    this.options = resolvePipeOptions(options);
    this.handler = options.handler ?? new DefaultHandler('server');
    this.#host = options.host ?? DEFAULT_LISTEN_HOST;
    this.#port = options.port ?? DEFAULT_LISTEN_PORT;
    this.#ticketKeys = options.ticketKeys;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Starts listening; resolves with the bound address. */
  async listen(): Promise<{ host: string; port: number }> {
    await initHandler(this.handler, this.#logger);
    this.#listener = await listenTls(
      { host: this.#host, port: this.#port, tls: this.options.tls, handshakeTimeoutMs: this.options.handshakeTimeoutMs, ticketKeys: this.#ticketKeys },
      (transport) => this.#onTransport(transport),
      (refusal) => this.#onRefused(refusal),
    );
    this.#logger.info({ address: this.#listener.address }, 'pipe listening');
    return this.#listener.address;
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

  clients(): ClientInfo[] {
    return [...this.#byName.values()].map((c) => ({
      name: c.peer.name,
      address: c.peer.address,
      connectedAt: (c.connectedAt ?? new Date()).toISOString(),
      inFlight: c.inFlight,
      eventsIn: c.stats.eventsIn,
      eventsOut: c.stats.eventsOut,
      rttMs: c.rttMs ?? null,
    }));
  }

  /**
   * Sends an event to the client with this name. Waits up to `connectWaitMs`
   * for it to connect; then UnknownClientError (never seen) or PeerUnavailableError.
   */
  request(name: string, request: PipeRequest): Promise<PipeResponse> {
    const now = this.#byName.get(name);
    if (now?.isOpen) return now.request(request);
    return this.#connectionFor(name).then((connection) => connection.request(request));
  }

  async #connectionFor(name: string): Promise<PipeConnection> {
    const now = this.#byName.get(name);
    if (now?.isOpen) return now;
    const later = this.#closing ? undefined : await this.#arrivals.wait(name, this.options.connectWaitMs);
    if (later?.isOpen) return later;
    if (this.#known.has(name)) throw new PeerUnavailableError(`client ${name} is not connected`);
    throw new UnknownClientError(`no client named ${name} has connected`);
  }

  /**
   * New certificate, key, CA and CRL for new handshakes; healthy connections
   * stay. Connections whose certificate serial is in `revokedSerials` (hex, as
   * read from the new CRL) are told Goaway `revoked` and closed.
   */
  reload(tls: TlsMaterial, revokedSerials: ReadonlySet<string> = new Set()): number {
    resolvePipeOptions({ tls });
    this.#listener?.reload(tls);
    // Compared with peers' serials below, in one spelling whatever the caller's.
    this.#revoked = new Set([...revokedSerials].map(normalizeSerial));
    let closed = 0;
    for (const connection of this.#live) {
      const serial = normalizeSerial(connection.peerCertificate.serialNumber ?? '');
      if (serial && this.#revoked.has(serial)) {
        connection.goaway(CloseReason.REVOKED, 'certificate revoked');
        closed += 1;
      }
    }
    this.#logger.info({ revokedClosed: closed }, 'tls material reloaded');
    return closed;
  }

  #onRefused({ error, remoteAddress }: TlsRefusal): void {
    this.#logger.warn({ address: remoteAddress, code: (error as { code?: string }).code, err: error.message }, 'pipe connection refused');
    publish(diagnostics.connectFail, { owner: this, error, address: remoteAddress });
    this.emit('refused', error, remoteAddress);
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  #onTransport(transport: Transport): void {
    const serial = normalizeSerial(transport.peerCertificate.serialNumber ?? '');
    if (serial && this.#revoked.has(serial)) {
      this.#onRefused({ error: new TlsError('certificate revoked (checked on accept)'), remoteAddress: transport.remoteAddress });
      transport.destroy();
      return;
    }
    const name = peerNameFromCertificate(transport.peerCertificate);
    if (!name || this.#closing) {
      this.#logger.warn({ address: transport.remoteAddress }, name ? 'refused: shutting down' : 'refused: certificate names no one');
      transport.destroy();
      return;
    }
    const connection = new PipeConnection({
      role: 'server', transport, options: this.options, handler: this.handler,
      generation: ++this.#generation, logger: this.#logger, owner: this,
    });
    this.#live.add(connection);
    connection.once('close', (reason: string, error: Error | undefined, wasOpen: boolean) =>
      this.#onClose(connection, reason, error, wasOpen));
    connection.awaitHello().then(
      (hello) => this.#register(connection, name, hello),
      (error: Error) => this.#logger.warn({ address: transport.remoteAddress, name, err: error.message }, 'hello failed'),
    );
  }

  #register(connection: PipeConnection, name: string, hello: Hello): void {
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
    const peer = connection.peer;
    this.#logger.info({ peer: name, address: peer.address, generation: connection.generation, replaced: !!previous }, 'client connected');
    publish(diagnostics.connect, { owner: this, peer: name, address: peer.address });
    this.emit('connect', peer);
    notifyConnect(this.handler, this.#logger, peer);
    this.#arrivals.notify(name, connection);
  }

  #onClose(connection: PipeConnection, reason: string, error: Error | undefined, wasOpen: boolean): void {
    this.#live.delete(connection);
    const peer: Peer = connection.peer;
    if (this.#byName.get(peer.name) === connection) this.#byName.delete(peer.name);
    if (!wasOpen) return;
    this.#logger.info({ peer: peer.name, generation: connection.generation, reason, err: error?.message }, 'client disconnected');
    publish(diagnostics.disconnect, { owner: this, peer: peer.name, address: peer.address, reason });
    this.emit('disconnect', peer, reason);
    notifyDisconnect(this.handler, this.#logger, peer, reason);
  }

  /** Stops accepting, tells every client Goaway, waits for in-flight events, closes. */
  async drain(timeoutMs = DEFAULT_DRAIN_TIMEOUT_MS): Promise<void> {
    this.#closing = true;
    this.#arrivals.clear();
    const stopListening = this.#listener?.close();
    await Promise.all([...this.#live].map((c) => c.drain(timeoutMs)));
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
    await closeHandler(this.handler, this.#logger);
  }
}
