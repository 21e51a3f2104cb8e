import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkServers, ConfigError, MIN_STREAM_WINDOW_BYTES, wholeNumber, type PipeTuning, type Role, type TlsMinVersion } from '@restpipe/core';
import { parseGatewayAddress, parseHostPort, type GatewayAddress } from '@restpipe/gateway';
import { camelName, envName, flagDefault, flagsFor, type FlagSpec } from './flags.js';

export interface HostPort {
  host: string;
  port: number;
}

/** Everything a node needs, validated. */
export interface NodeConfig extends PipeTuning {
  readonly role: Role;
  readonly listen: HostPort;
  /** Client: `--server`, one or more HOST:PORT dialed in turn. */
  readonly servers: readonly HostPort[];
  /** Client: `--server-name` when given; else each server's HOST is the name its certificate must carry. */
  readonly serverName: string | undefined;
  readonly gateway: GatewayAddress;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly crl: string | undefined;
  readonly ticketKeysFile: string | undefined;
  readonly handler: string | undefined;
  readonly statsd: HostPort | 'off';
  readonly statsdPrefix: string;
  readonly apiKeyFile: string | undefined;
  readonly signingKeysFile: string | undefined;
  readonly maxNonces: number;
  readonly tlsMinVersion: TlsMinVersion;
  readonly logLevel: string;
  readonly exposeTracebacks: boolean;
  readonly gatewaySocketMode: number;
  /** Server: `--node-id`, made of the host name and the --listen port unless given. */
  readonly nodeId: string;
  /** Server: `--cluster`, the NATS URLs; empty for `off`. */
  readonly cluster: readonly string[];
  /** Server: `--cluster-ca`, `--cluster-cert`, `--cluster-key` (NATS over TLS). */
  readonly clusterTls: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string } | undefined;
  /** `--data-dir` as given: 'off', a path, or undefined for `data/ROLE-NAME` (see dataDirOf). */
  readonly dataDir: string | undefined;
  readonly jobTtlMs: number;
  readonly maxJobs: number;
  readonly idempotencyTtlMs: number;
}

export type ParsedCommand = { help: true } | { help: false; config: NodeConfig };

type Raw = Map<string, string | boolean>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** argv + env + --config file -> NodeConfig. Throws ConfigError naming the bad flag. */
export function resolveConfig(role: Role, argv: readonly string[], env: NodeJS.ProcessEnv): ParsedCommand {
  const specs = flagsFor(role);
  const fromArgs = parseArgv(specs, argv);
  if (fromArgs.get('help') === true) return { help: true };
  const fromEnv = readEnv(role, specs, env);
  const configFile = (fromArgs.get('config') ?? fromEnv.get('config')) as string | undefined;
  const fromFile = configFile ? readConfigFile(specs, configFile) : new Map();
  const pick = (name: string): string | boolean | undefined =>
    fromArgs.get(name) ?? fromEnv.get(name) ?? fromFile.get(name) ?? specs.find((s) => s.name === name)?.defaults[role];
  return { help: false, config: build(role, pick) };
}

function parseArgv(specs: readonly FlagSpec[], argv: readonly string[]): Raw {
  const options = Object.fromEntries([
    ...specs.map((s) => [s.name, { type: s.type === 'bool' ? 'boolean' : 'string' }] as const),
    ['help', { type: 'boolean', short: 'h' }] as const,
  ]);
  try {
    const { values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
    return new Map(Object.entries(values).filter(([, v]) => v !== undefined) as Array<[string, string | boolean]>);
  } catch (error) {
    throw new ConfigError((error as Error).message.split('\n')[0]!.replace(/\. To specify a positional.*$/, ''));
  }
}

function readEnv(role: Role, specs: readonly FlagSpec[], env: NodeJS.ProcessEnv): Raw {
  const raw: Raw = new Map();
  applyAliases(role, env, raw);
  for (const spec of specs) {
    const value = env[envName(spec.name)];
    if (value === undefined || (value === '' && spec.name !== 'statsd')) continue;
    raw.set(spec.name, spec.type === 'bool' ? envBool(envName(spec.name), value) : value);
  }
  return raw;
}

/** RestPipe's names; the RP_ names of our own flags are applied after and win. A half given takes the other from the flag's default. */
function applyAliases(role: Role, env: NodeJS.ProcessEnv, raw: Raw): void {
  const hostPort = (flag: string, hostVar: string[], portVar: string[]): void => {
    const host = firstSet(env, hostVar);
    const port = firstSet(env, portVar);
    if (host === undefined && port === undefined) return;
    const base = parseHostPort(flagDefault(flag, role) ?? '', `--${flag}`);
    raw.set(flag, `${formatHost(host || base.host)}:${port || base.port}`);
  };
  if (role === 'client') hostPort('server', ['RP_CLIENT_TARGET_HOSTNAME'], ['RP_CLIENT_TARGET_PORT']);
  if (role === 'server') hostPort('listen', ['RP_SERVER_BIND_INTERFACE', 'BIND_IP'], ['RP_SERVER_BIND_PORT', 'BIND_PORT']);
  if (env['RP_EVENT_HANDLER_FQ_CLASS']) raw.set('handler', env['RP_EVENT_HANDLER_FQ_CLASS']);
  if (env['RP_STATSD_HOST'] === '') raw.set('statsd', 'off');
  else hostPort('statsd', ['RP_STATSD_HOST'], ['RP_STATSD_PORT']);
  if (env['DEBUG'] === '1' || env['DEBUG'] === 'true') {
    raw.set('log-level', 'debug');
    raw.set('expose-tracebacks', true);
  }
}

function firstSet(env: NodeJS.ProcessEnv, names: string[]): string | undefined {
  for (const name of names) if (env[name] !== undefined) return env[name];
  return undefined;
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function envBool(name: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(value)}`);
}

function readConfigFile(specs: readonly FlagSpec[], file: string): Raw {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(`--config ${file}: ${code ? `cannot read (${code})` : `not valid JSON (${(error as Error).message})`}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`--config ${file} must hold a JSON object`);
  const raw: Raw = new Map();
  for (const [key, value] of Object.entries(parsed)) {
    const spec = specs.find((s) => s.name === key || camelName(s.name) === key);
    if (!spec || spec.name === 'config') throw new ConfigError(`--config ${file}: unknown key ${JSON.stringify(key)}`);
    if (spec.type === 'bool' ? typeof value !== 'boolean' : typeof value !== 'string' && typeof value !== 'number') {
      throw new ConfigError(`--config ${file}: ${key} must be a ${spec.type === 'bool' ? 'boolean' : 'string or number'}`);
    }
    raw.set(spec.name, typeof value === 'number' ? String(value) : value);
  }
  return raw;
}

function build(role: Role, pick: (name: string) => string | boolean | undefined): NodeConfig {
  const str = (name: string): string | undefined => {
    const v = pick(name);
    return v === undefined || v === '' ? undefined : String(v);
  };
  const required = (name: string): string => str(name) ?? missing(name);
  const servers = role === 'client' ? parseServerList(required('server')) : [];
  const socketMode = parseMode(required('gateway-socket-mode'));
  const listen = role === 'server' ? parseHostPort(required('listen'), '--listen') : { host: '', port: 0 };
  return Object.freeze({
    role,
    listen,
    servers,
    serverName: str('server-name'),
    gateway: parseGatewayAddress(required('gateway'), socketMode),
    cert: required('cert'),
    key: required('key'),
    ca: required('ca'),
    crl: str('crl'),
    ticketKeysFile: str('ticket-keys-file'),
    handler: str('handler'),
    statsd: parseStatsd(pick('statsd')),
    statsdPrefix: required('statsd-prefix'),
    heartbeatMs: int('heartbeat-ms', required('heartbeat-ms'), 1),
    timeoutMs: int('timeout-ms', required('timeout-ms'), 1),
    connectWaitMs: int('connect-wait-ms', required('connect-wait-ms'), 0),
    maxEventBytes: int('max-event-bytes', required('max-event-bytes'), 1),
    maxInFlight: int('max-in-flight', required('max-in-flight'), 1),
    maxConcurrency: int('max-concurrency', required('max-concurrency'), 1),
    maxInboundBytes: int('max-inbound-bytes', required('max-inbound-bytes'), 1),
    streamWindowBytes: int('stream-window-bytes', required('stream-window-bytes'), MIN_STREAM_WINDOW_BYTES),
    maxStreamBytes: int('max-stream-bytes', required('max-stream-bytes'), 0),
    maxStreams: int('max-streams', required('max-streams'), 1),
    apiKeyFile: str('api-key-file'),
    signingKeysFile: str('signing-keys-file'),
    maxNonces: int('max-nonces', required('max-nonces'), 1),
    tlsMinVersion: oneOf('tls-min-version', required('tls-min-version'), ['TLSv1.3', 'TLSv1.2']) as TlsMinVersion,
    logLevel: oneOf('log-level', required('log-level'), LOG_LEVELS),
    exposeTracebacks: pick('expose-tracebacks') === true,
    gatewaySocketMode: socketMode,
    nodeId: nodeIdOf(role, str('node-id'), listen.port),
    cluster: role === 'server' ? parseCluster(required('cluster')) : [],
    clusterTls: clusterTlsOf(str('cluster-ca'), str('cluster-cert'), str('cluster-key')),
    dataDir: dataDirFlag(str('data-dir'), role),
    jobTtlMs: int('job-ttl-ms', required('job-ttl-ms'), 1),
    maxJobs: int('max-jobs', required('max-jobs'), 1),
    idempotencyTtlMs: int('idempotency-ttl-ms', required('idempotency-ttl-ms'), 1),
  });
}

const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** `--node-id`, or HOSTNAME-PORT (the host name made safe for a directory name). */
function nodeIdOf(role: Role, given: string | undefined, port: number): string {
  if (role !== 'server') return '';
  if (given !== undefined && given !== flagDefault('node-id', role)) {
    if (!NODE_ID.test(given)) throw new ConfigError(`--node-id must match ${NODE_ID.source}, got ${JSON.stringify(given)}`);
    return given;
  }
  const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[^A-Za-z0-9]+/, '') || 'node';
  return `${host.slice(0, 50)}-${port}`;
}

/** undefined: the default, `data/ROLE-NAME`, made once the node's name is known. */
function dataDirFlag(given: string | undefined, role: Role): string | undefined {
  return given === undefined || given === flagDefault('data-dir', role) ? undefined : given;
}

/** The data directory a node uses: `off`, the flag's path, or `data/client-NAME` / `data/server-NODE_ID`. */
export function dataDirOf(config: NodeConfig, name: string): string {
  if (config.dataDir !== undefined) return config.dataDir;
  return config.role === 'server' ? join('data', `server-${config.nodeId}`) : join('data', `client-${name}`);
}

/** NATS URLs a cluster may name, at most. */
const MAX_CLUSTER_URLS = 32;

/** `--cluster off`, or `nats://H:P` (or `tls://H:P`) URLs, comma separated. */
function parseCluster(text: string): readonly string[] {
  if (text === 'off') return [];
  const urls = text.split(',').map((part) => part.trim());
  if (urls.length > MAX_CLUSTER_URLS) throw new ConfigError(`--cluster takes at most ${MAX_CLUSTER_URLS} URLs`);
  for (const url of urls) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new ConfigError(`--cluster: ${JSON.stringify(url)} is no URL; use nats://HOST:PORT, comma separated, or off`);
    }
    if (!['nats:', 'tls:'].includes(parsed.protocol) || !parsed.hostname || !parsed.port || parsed.pathname.replace(/^\/$/, '') !== '') {
      throw new ConfigError(`--cluster: ${JSON.stringify(url)} must be nats://HOST:PORT (or tls://HOST:PORT)`);
    }
  }
  return urls;
}

function clusterTlsOf(caFile: string | undefined, certFile: string | undefined, keyFile: string | undefined): NodeConfig['clusterTls'] {
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ConfigError('--cluster-cert and --cluster-key go together');
  if (caFile === undefined && certFile === undefined) return undefined;
  return { ...(caFile ? { caFile } : {}), ...(certFile ? { certFile } : {}), ...(keyFile ? { keyFile } : {}) };
}

function missing(name: string): never {
  throw new ConfigError(`--${name} needs a value`);
}

/** Digits only (no `1e3`, `0x10` or ` 5`), then core's rule for a whole-number setting. */
function int(name: string, text: string, min: number): number {
  return wholeNumber(`--${name}`, /^\d+$/.test(text) ? Number(text) : NaN, min, JSON.stringify(text));
}

function oneOf(name: string, text: string, allowed: readonly string[]): string {
  if (!allowed.includes(text)) throw new ConfigError(`--${name} must be one of ${allowed.join(', ')}; got ${JSON.stringify(text)}`);
  return text;
}

function parseMode(text: string): number {
  if (!/^0?[0-7]{3}$/.test(text)) throw new ConfigError(`--gateway-socket-mode must be an octal mode like 0600, got ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

/** `--server HOST:PORT[,HOST:PORT...]`: each part as a single HOST:PORT, PORT from 1; at most MAX_SERVERS, none twice. */
function parseServerList(text: string): readonly HostPort[] {
  const servers = text.split(',').map((part) => {
    const server = parseHostPort(part.trim(), '--server');
    if (server.port === 0) throw new ConfigError(`--server port must be from 1 to 65535, got ${JSON.stringify(part.trim())}`);
    return server;
  });
  return checkServers(servers, '--server');
}

function parseStatsd(value: string | boolean | undefined): HostPort | 'off' {
  if (value === undefined || value === '' || value === 'off') return 'off';
  return parseHostPort(String(value), '--statsd');
}
