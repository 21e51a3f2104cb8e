import { ConfigError } from '@restpipe/wire';

/** One server a client knows: where it dials. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
}

export const DEFAULT_SERVER_HOST = 'localhost';
export const DEFAULT_SERVER_PORT = 1234;
/** A client knows this many servers at most: a longer list is a mistake, not a cluster. */
export const MAX_SERVERS = 16;

const MAX_PORT = 65535;

/** `host:port`, or `[v6]:port`: how logs and errors name a server. */
export function formatAddress(server: ServerAddress): string {
  return `${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}`;
}

/**
 * Checks a list of servers: 1 to MAX_SERVERS entries, each a non-empty host and a port
 * from 1 to 65535, none twice. `label` names the option or flag in the ConfigError.
 * Returns a frozen copy.
 */
export function checkServers(list: unknown, label: string): readonly ServerAddress[] {
  if (!Array.isArray(list)) throw new ConfigError(`${label} must be a list of {host, port}`);
  if (list.length === 0) throw new ConfigError(`${label} must name at least one server`);
  if (list.length > MAX_SERVERS) throw new ConfigError(`${label} names ${list.length} servers; at most ${MAX_SERVERS}`);
  const seen = new Set<string>();
  return Object.freeze(list.map((entry: unknown, i) => {
    if (!entry || typeof entry !== 'object') throw new ConfigError(`${label}[${i}] must be {host, port}`);
    const server = checkServer(entry, `${label}[${i}].`);
    // Host names are case-insensitive: `Hub:1` and `hub:1` are one server.
    const key = formatAddress({ host: server.host.toLowerCase(), port: server.port });
    if (seen.has(key)) throw new ConfigError(`${label} names ${formatAddress(server)} twice`);
    seen.add(key);
    return server;
  }));
}

/**
 * A PipeClient's servers: `servers`, or else `host` and `port` as a list of one
 * (each defaulting as before). Both at once is a ConfigError.
 */
export function serversOf(options: { servers?: unknown; host?: unknown; port?: unknown }): readonly ServerAddress[] {
  if (options.servers === undefined) {
    const entry = { host: options.host ?? DEFAULT_SERVER_HOST, port: options.port ?? DEFAULT_SERVER_PORT };
    return Object.freeze([checkServer(entry, '')]);
  }
  if (options.host !== undefined || options.port !== undefined) {
    throw new ConfigError('give either servers or host and port, not both');
  }
  return checkServers(options.servers, 'servers');
}

/** `prefix` names the entry in the ConfigError: '' or `servers[2].`. */
function checkServer(entry: { host?: unknown; port?: unknown }, prefix: string): ServerAddress {
  const { host, port } = entry;
  if (typeof host !== 'string' || host === '' || /[\s,]/.test(host)) {
    throw new ConfigError(`${prefix}host must be a host name or address, got ${JSON.stringify(host)}`);
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > MAX_PORT) {
    throw new ConfigError(`${prefix}port must be a whole number from 1 to ${MAX_PORT}, got ${String(port)}`);
  }
  return Object.freeze({ host, port });
}

/**
 * The servers a client dials in turn (round robin): `current` is the one the next
 * attempt goes to; `advance()` after a failed attempt or a lost connection.
 */
export class ServerRotation {
  readonly servers: readonly ServerAddress[];
  #index = 0;

  constructor(servers: readonly ServerAddress[]) {
    this.servers = servers;
  }

  get current(): ServerAddress {
    return this.servers[this.#index]!;
  }

  advance(): void {
    this.#index = (this.#index + 1) % this.servers.length;
  }
}
