import type { PipeConnection } from './connection.js';

/** A client, as `/_rp/clients` lists it (SPEC §4, §13). */
export interface ClientInfo {
  name: string;
  address: string;
  connectedAt: string;
  inFlight: number;
  eventsIn: number;
  eventsOut: number;
  /** Events from it whose handler here threw; requests to it that failed. */
  errorsIn: number;
  errorsOut: number;
  /** Streams open on the connection, either way (SPEC §12). */
  streams: number;
  rttMs: number | null;
  /** Its certificate's serial (upper-case hex) and notAfter (ISO 8601); null when unread. */
  serial: string | null;
  notAfter: string | null;
  /** The software its Hello named (`restpipe/0.2.0`), cut to 64 printable characters. */
  software: string;
}

/** A client seen before and gone now: its last figures, and when it left. */
export interface OfflineClientInfo extends ClientInfo {
  online: false;
  lastSeen: string;
}

/** Offline clients kept at most; the longest gone are forgotten first. */
export const MAX_OFFLINE_CLIENTS = 1000;
const MAX_SOFTWARE_CHARS = 64;
/** Printable ASCII only: a peer's software string is shown on the dashboard and in JSON. */
const UNPRINTABLE = /[^\x20-\x7e]/g;

/**
 * What the server knows of its clients beyond their connections: the software each
 * Hello named, and the clients that left (bounded, oldest dropped), until one of that
 * name comes back or they are cleared.
 */
export class ClientRoster {
  readonly #software = new WeakMap<PipeConnection, string>();
  /** By name, in the order they left (a Map keeps insertion order). */
  readonly #offline = new Map<string, OfflineClientInfo>();

  constructor(private readonly maxOffline = MAX_OFFLINE_CLIENTS) {}

  online(connection: PipeConnection, name: string, software: string): void {
    // A copy of its own, through a Buffer: a slice would keep a megabyte Hello string alive.
    const cut = software.length > MAX_SOFTWARE_CHARS ? Buffer.from(software.slice(0, MAX_SOFTWARE_CHARS), 'utf8').toString('utf8') : software;
    this.#software.set(connection, cut.replace(UNPRINTABLE, '?'));
    this.#offline.delete(name);
  }

  /** The connection of that name is gone: it is kept as offline until it returns. */
  offline(connection: PipeConnection): void {
    const info = this.info(connection);
    this.#offline.delete(info.name);
    this.#offline.set(info.name, { ...info, inFlight: 0, streams: 0, online: false, lastSeen: new Date().toISOString() });
    if (this.#offline.size > this.maxOffline) this.#offline.delete(this.#offline.keys().next().value!);
  }

  /** Newest gone first. */
  offlineClients(): OfflineClientInfo[] {
    return [...this.#offline.values()].reverse();
  }

  /** Forgets every offline client; says how many there were. */
  clearOffline(): number {
    const count = this.#offline.size;
    this.#offline.clear();
    return count;
  }

  info(c: PipeConnection): ClientInfo {
    const { stats, peerCertificate: cert } = c;
    return {
      name: c.peer.name,
      address: c.peer.address,
      connectedAt: (c.connectedAt ?? new Date()).toISOString(),
      inFlight: c.inFlight,
      eventsIn: stats.eventsIn,
      eventsOut: stats.eventsOut,
      errorsIn: stats.errorsIn,
      errorsOut: stats.errorsOut,
      streams: c.openStreams,
      rttMs: c.rttMs ?? null,
      serial: cert.serialNumber ?? null,
      notAfter: cert.validTo ?? null,
      software: this.#software.get(c) ?? '',
    };
  }
}
