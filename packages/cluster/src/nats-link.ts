import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '@restpipe/core';

/** Files for NATS's TLS: the CA its servers' certificates chain to, and this node's own certificate and key. */
export interface ClusterTls {
  readonly caFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
}

export interface NatsLinkOptions {
  readonly servers: readonly string[];
  readonly tls?: ClusterTls | undefined;
  /** How this node names itself to NATS (its connection name in `/connz`). */
  readonly name: string;
  readonly logger: Logger;
  /** The connection is up: `fresh`, a new connection (nothing subscribed yet); else nats.js reconnected it. */
  onUp(nc: NatsConnection, fresh: boolean): void;
  /** The connection is down: NATS is reconnecting, or it closed. */
  onDown(): void;
}

/** Between whole new connection attempts, when NATS's own reconnection gave up or a first connect failed fast. */
const RETRY_MS = [500, 1000, 2000, 5000] as const;
/** A drain at shutdown waits this long at most: a NATS that does not answer never holds the exit. */
const DRAIN_MS = 2_000;
/** A first connection still not made (nats.js retries it silently) is logged after this long, then every PENDING_REPEAT_MS. */
const PENDING_FIRST_MS = 1_000;
const PENDING_REPEAT_MS = 30_000;
const UNREACHABLE = 'cluster: cannot connect to NATS; serving local clients, retrying';
/** nats.js pings every this often and counts the link dead after two unanswered: a dead route is never waited on. */
const PING_INTERVAL_MS = 2_000;

/**
 * The node's one connection to NATS (SPEC §11), kept up forever. NATS unreachable at start
 * is no start failure: the node serves its own clients while this retries and logs.
 */
export class NatsLink {
  readonly #options: NatsLinkOptions;
  #nc: NatsConnection | undefined;
  #up = false;
  #closing = false;
  #retry: NodeJS.Timeout | undefined;

  constructor(options: NatsLinkOptions) {
    this.#options = options;
  }

  get up(): boolean {
    return this.#up && !this.#closing;
  }

  /** The connection while it is up. */
  get connection(): NatsConnection | undefined {
    return this.up ? this.#nc : undefined;
  }

  start(): void {
    void this.#connect(0);
  }

  async #connect(attempt: number): Promise<void> {
    if (this.#closing) return;
    const { servers, tls, name, logger } = this.#options;
    const stopWarning = this.#warnWhilePending();
    try {
      const nc = await connect({
        servers: [...servers],
        name,
        ...(tls && (tls.caFile || tls.certFile) ? { tls: { ...tls } } : {}),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1_000,
        waitOnFirstConnect: true,
        pingInterval: PING_INTERVAL_MS,
        maxPingOut: 2,
      });
      if (this.#closing) {
        await nc.close();
        return;
      }
      this.#adopt(nc);
    } catch (error) {
      const delay = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]!;
      logger.warn({ servers, err: (error as Error).message, retryMs: delay }, UNREACHABLE);
      this.#retry = setTimeout(() => void this.#connect(attempt + 1), delay);
    } finally {
      stopWarning();
    }
  }

  /** With waitOnFirstConnect, nats.js tries every server until one answers and says nothing meanwhile: we do. */
  #warnWhilePending(): () => void {
    const { servers, logger } = this.#options;
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const after = (ms: number): void => {
      timer = setTimeout(() => {
        if (this.#closing) return;
        logger.warn({ servers, waitedMs: Math.round(performance.now() - started) }, UNREACHABLE);
        after(PENDING_REPEAT_MS);
      }, ms);
      timer.unref();
    };
    after(PENDING_FIRST_MS);
    return () => clearTimeout(timer);
  }

  #adopt(nc: NatsConnection): void {
    this.#nc = nc;
    this.#up = true;
    this.#options.logger.info({ server: nc.getServer(), maxPayload: nc.info?.max_payload }, 'cluster: connected to NATS');
    this.#tell(nc, true);
    this.#watch(nc).catch((error: unknown) => this.#options.logger.warn({ err: (error as Error).message }, 'cluster: NATS status watch ended'));
    void nc.closed().then((error) => {
      if (this.#nc !== nc) return;
      this.#setDown();
      if (this.#closing) return;
      this.#options.logger.warn({ err: error?.message }, 'cluster: the NATS connection closed; connecting again');
      void this.#connect(0);
    });
  }

  async #watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        this.#options.logger.warn({ server: status.server }, 'cluster: NATS connection lost; reconnecting');
        this.#setDown();
      } else if (status.type === 'reconnect') {
        this.#options.logger.info({ server: status.server }, 'cluster: NATS connection back');
        this.#up = true;
        this.#tell(nc, false);
      }
    }
  }

  /** What the node does on a link up never escapes as a crash: it is logged, and the heartbeat repairs it. */
  #tell(nc: NatsConnection, fresh: boolean): void {
    try {
      this.#options.onUp(nc, fresh);
    } catch (error) {
      this.#options.logger.error({ err: (error as Error).message }, 'cluster: joining the cluster failed in part; the next heartbeat repairs it');
    }
  }

  #setDown(): void {
    if (!this.#up) return;
    this.#up = false;
    this.#options.onDown();
  }

  /** Drains (what was published goes out) when up, within DRAIN_MS; a link that is down just closes. */
  async close(): Promise<void> {
    this.#closing = true;
    clearTimeout(this.#retry);
    const nc = this.#nc;
    const wasUp = this.#up;
    this.#up = false;
    if (!nc || nc.isClosed()) return;
    if (wasUp) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_MS)));
      await Promise.race([nc.drain().catch(() => undefined), late]);
      clearTimeout(timer);
    }
    if (!nc.isClosed()) await nc.close().catch(() => undefined);
  }
}
