import { EventEmitter } from 'node:events';
import { ClosedError, PeerUnavailableError, TooManyInFlightError } from '@restpipe/wire';
import { PipeConnection } from './connection.js';
import { DefaultHandler } from './default-handler.js';
import { diagnostics, publish } from './diagnostics.js';
import type { EventHandler } from './event-handler.js';
import { announceConnect, announceDisconnect, closeHandler, initHandler } from './hooks.js';
import { silentLogger, type Logger } from './logger.js';
import { DEFAULT_DRAIN_TIMEOUT_MS, RECONNECT_MAX_MS, RECONNECT_MIN_MS, resolvePipeOptions, type PipeOptions, type ResolvedPipeOptions, type TlsMaterial } from './options.js';
import { pause, resolveBackoff, retryForever, type AttemptInfo, type BackoffOptions } from './reconnect.js';
import type { PipeRequest, PipeResponse } from './request.js';
import { formatAddress, serversOf, ServerRotation, type ServerAddress } from './server-list.js';
import { CloseReason } from './state.js';
import { dialTls } from './transport.js';
import { Waiters } from './waiters.js';
import type { DurableOptions } from './durable/durable-options.js';
import type { EnqueueRequest } from './durable/job-request.js';
import type { JobView } from './durable/job-view.js';
import { NodeJobs } from './durable/node-jobs.js';
import type { Durable } from './durable/durable.js';
import { releasingBody } from './streams/stream-source.js';

export { DEFAULT_SERVER_HOST, DEFAULT_SERVER_PORT, MAX_SERVERS, type ServerAddress } from './server-list.js';

export interface PipeClientOptions extends PipeOptions, DurableOptions {
  /**
   * The servers to dial in turn (1 to 16, none twice): a failed attempt or a lost
   * connection moves on to the next one. Not together with `host`/`port`.
   * @default [{ host, port }]
   */
  servers?: ReadonlyArray<{ host: string; port: number }> | undefined;
  /** The one server, when `servers` is not given. @default 'localhost' */
  host?: string | undefined;
  /** @default 1234 */
  port?: number | undefined;
  /** Name every server certificate must carry. @default the host of each server */
  serverName?: string | undefined;
  reconnect?: BackoffOptions | undefined;
}

export interface ReconnectingInfo extends AttemptInfo {
  /** Why the previous attempt failed. */
  error: Error;
  /** The server this attempt dials, as `host:port`. */
  address: string;
}

/**
 * Holds one connection to a server and reconnects forever, to the next of its
 * servers each time (see ServerRotation). Emits `connect`, `disconnect` (peer,
 * reason), `reconnecting` ({attempt, delayMs, error, address}) and `error` (only when
 * someone listens).
 */
export class PipeClient extends EventEmitter {
  readonly options: ResolvedPipeOptions;
  readonly handler: EventHandler;
  readonly #servers: ServerRotation;
  /** The server of the live connection, or of the last attempt. */
  #dialed: ServerAddress;
  #lastFailure: Error | undefined;
  readonly #serverName: string | undefined;
  readonly #backoff: BackoffOptions;
  readonly #logger: Logger;
  readonly #stop = new AbortController();
  readonly #ready = new Waiters<'server', PipeConnection>();
  #connection: PipeConnection | undefined;
  #loop: Promise<void> | undefined;
  #generation = 0;
  /** TLS sessions for resumption, one per server: a session proves only the server that issued it. */
  readonly #sessions = new Map<string, Buffer>();
  #tls: TlsMaterial;
  readonly #jobs: NodeJobs;

  constructor(options: PipeClientOptions) {
    super();
    this.options = resolvePipeOptions(options);
    this.handler = options.handler ?? new DefaultHandler('client');
    this.#servers = new ServerRotation(serversOf(options));
    this.#dialed = this.#servers.current;
    this.#serverName = options.serverName;
    this.#backoff = resolveBackoff(options.reconnect);
    this.#logger = options.logger ?? silentLogger;
    this.#tls = this.options.tls;
    this.#jobs = new NodeJobs(options);
  }

  /** New certificate, key and CA for the next connection; the live one stays. */
  reload(tls: TlsMaterial): void {
    resolvePipeOptions({ tls });
    this.#tls = tls;
    this.#sessions.clear();
  }

  get isConnected(): boolean {
    return this.#connection?.isOpen ?? false;
  }

  get connection(): PipeConnection | undefined {
    return this.#connection;
  }

  /** The server of the live connection, or else the one dialed last (the first before any). */
  get server(): ServerAddress {
    return this.#dialed;
  }

  /** Every server this client dials, in turn. */
  get servers(): readonly ServerAddress[] {
    return this.#servers.servers;
  }

  /**
   * Starts connecting in the background; returns at once. With a `dataDir`, opens the
   * store first: StoreError (one line naming the directory) if it cannot be used.
   */
  start(): this {
    this.#jobs.open({
      owner: this,
      logger: this.#logger,
      options: this.options,
      handler: this.handler,
      host: {
        connectedTargets: () => (this.isConnected ? ['server'] : []),
        isConnected: (target) => target === 'server' && this.isConnected,
        send: (_target, request) => this.#send(request),
        notify: (peer, hold) => (peer === 'server' && this.#connection?.sendHoldNotice(hold)) || false,
        envFor: () => ({
          peer: { name: 'server', address: this.#connection?.peer.address ?? '' },
          pipe: { request: (request) => this.request(request) },
        }),
      },
    });
    void initHandler(this.handler, this.#logger).then(() => this.#ensureLoop(0));
    return this;
  }

  /** Resolves once connected, or false after `timeoutMs`. */
  async connected(timeoutMs = this.options.connectWaitMs): Promise<boolean> {
    if (this.isConnected) return true;
    return (await this.#ready.wait('server', timeoutMs)) !== undefined;
  }

  /** Sends an event to the server; waits up to `connectWaitMs` for the pipe. */
  request(request: PipeRequest): Promise<PipeResponse> {
    const response = releasingBody(request.body, this.#send(request));
    // A held event (SPEC §9) becomes a job on hold; only a node with a data directory takes holds.
    if (!this.#jobs.durable) return response;
    return response.then((r) => (r.held ? this.#jobs.settleHeld('server', request, r) : r));
  }

  #send(request: PipeRequest): Promise<PipeResponse> {
    if (this.#stop.signal.aborted) return Promise.reject(new ClosedError('client is closed'));
    // Connected, the usual case: no extra promise on the hot path (but for the one above, with a data directory).
    if (this.isConnected && this.#connection) return this.#connection.request(request);
    return this.#requestWhenConnected(request);
  }

  /**
   * Queues the request as a durable job for the server (SPEC §8): resolves with its id once
   * it is on disk. It is delivered when the pipe is up, and retried until `ttlMs`.
   * NotEnabledError without a `dataDir`; JobQueueFullError past `maxJobs`.
   */
  enqueue(request: EnqueueRequest): Promise<string> {
    return this.#jobs.enqueue('server', request);
  }

  /** The job, as `GET /_rp/jobs/ID` shows it; undefined for an unknown id. */
  job(id: string): JobView | undefined {
    return this.#jobs.job(id);
  }

  /** The durable side, when open: what the gateway's job routes use. */
  get durable(): Durable | undefined {
    return this.#jobs.durable;
  }

  async #requestWhenConnected(request: PipeRequest): Promise<PipeResponse> {
    // Each waiting request holds its body: no more than may be in flight.
    if (this.#ready.count('server') >= this.options.maxInFlight) {
      throw new TooManyInFlightError('too many requests already waiting for the pipe to the server');
    }
    const connection = await this.#ready.wait('server', this.options.connectWaitMs);
    if (!connection?.isOpen) throw new PeerUnavailableError('not connected to the server');
    return connection.request(request);
  }

  /** One loop at a time: a second call while one runs does nothing. */
  #ensureLoop(initialDelayMs: number): void {
    if (this.#loop || this.#stop.signal.aborted) return;
    this.#loop = this.#connectLoop(initialDelayMs).finally(() => {
      this.#loop = undefined;
    });
  }

  async #connectLoop(initialDelayMs: number): Promise<void> {
    await pause(initialDelayMs, this.#stop.signal);
    let connection: PipeConnection;
    try {
      connection = await retryForever({
        backoff: this.#backoff,
        signal: this.#stop.signal,
        attempt: (info) => this.#attempt(info),
        onFailed: (error, attempt) => this.#onAttemptFailed(error, attempt),
      });
    } catch {
      return; // aborted by close()
    }
    this.#adopt(connection);
  }

  async #attempt(info: AttemptInfo): Promise<PipeConnection> {
    const server = this.#servers.current;
    const address = formatAddress(server);
    this.#dialed = server;
    if (info.attempt > 1 && this.#lastFailure) {
      this.emit('reconnecting', { ...info, error: this.#lastFailure, address } satisfies ReconnectingInfo);
    }
    const transport = await dialTls({
      host: server.host, port: server.port, serverName: this.#serverName ?? server.host, tls: this.#tls,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs, session: this.#sessions.get(address),
      onSession: (session) => { this.#sessions.set(address, session); },
    });
    const connection = new PipeConnection({
      role: 'client', transport, options: this.options, handler: this.handler,
      generation: ++this.#generation, logger: this.#logger, owner: this, idempotency: this.#jobs.gate, holds: this.#jobs.holds,
    });
    connection.on('holdNotice', (hold) => this.#jobs.holdNotice('server', hold));
    connection.once('close', (reason: string, error: Error | undefined, wasOpen: boolean) => {
      if (wasOpen) this.#onClose(connection, reason, error);
    });
    try {
      await connection.helloAsClient();
    } catch (error) {
      connection.destroy();
      throw error;
    }
    if (this.#stop.signal.aborted) connection.destroy();
    return connection;
  }

  #onAttemptFailed(error: Error, attempt: number): void {
    const address = formatAddress(this.#dialed);
    this.#lastFailure = error;
    // The next attempt, after the usual backoff, goes to the next server.
    this.#servers.advance();
    this.#logger.warn({ server: address, attempt, code: (error as { code?: string }).code, err: error.message }, 'connect failed');
    publish(diagnostics.connectFail, { owner: this, error, address });
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  #adopt(connection: PipeConnection): void {
    if (!connection.isOpen) {
      this.#servers.advance();
      this.#ensureLoop(this.#jitterMs());
      return;
    }
    this.#connection = connection;
    const peer = connection.peer;
    this.#logger.info({ server: formatAddress(this.#dialed), generation: connection.generation }, 'connected to server');
    announceConnect({ owner: this, handler: this.handler, logger: this.#logger }, peer);
    this.#ready.notify('server', connection);
    this.#jobs.peerConnected('server');
  }

  #onClose(connection: PipeConnection, reason: string, error: Error | undefined): void {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    const peer = connection.peer;
    this.#logger.info({ server: formatAddress(this.#dialed), reason, err: error?.message }, 'disconnected from server');
    // Lost, told Goaway (drain, shutdown) or replaced: the next connection goes to the next server.
    this.#servers.advance();
    announceDisconnect({ owner: this, handler: this.handler, logger: this.#logger }, peer, reason);
    // Replaced by a newer connection with our name: back off fully so two copies don't flap.
    const delay = reason === `goaway:${CloseReason.DUPLICATE_IDENTITY}` ? (this.#backoff.maxMs ?? RECONNECT_MAX_MS) : this.#jitterMs();
    this.#ensureLoop(delay);
  }

  /** A short random pause so that clients dropped together do not return together. */
  #jitterMs(): number {
    return Math.random() * (this.#backoff.minMs ?? RECONNECT_MIN_MS);
  }

  /** Goaway to the server, let in-flight events finish (bounded), then close. */
  async drain(timeoutMs = DEFAULT_DRAIN_TIMEOUT_MS): Promise<void> {
    this.#stop.abort();
    // Approved holds' handlers may finish too: their outcomes are kept for their senders.
    await Promise.all([this.#connection?.drain(timeoutMs), this.#jobs.drain(timeoutMs)]);
    await this.close();
  }

  /** Closes at once; resolves when the connection is gone and `disconnect` was emitted. */
  async close(): Promise<void> {
    this.#stop.abort();
    this.#ready.clear();
    const connection = this.#connection;
    if (connection && connection.state !== 'closed') {
      const closed = new Promise((resolve) => connection.once('close', resolve));
      connection.destroy(undefined, CloseReason.SHUTDOWN);
      await closed;
    }
    await this.#loop;
    this.#jobs.close();
    await closeHandler(this.handler, this.#logger);
  }
}
