import {
  DEFAULT_CONNECT_WAIT_MS,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_LISTEN_HOST,
  DEFAULT_LISTEN_PORT,
  DEFAULT_MAX_CONCURRENCY,
  DEFAULT_MAX_EVENT_BYTES,
  DEFAULT_MAX_IN_FLIGHT,
  DEFAULT_MAX_INBOUND_BYTES,
  DEFAULT_MAX_STREAMS,
  DEFAULT_STREAM_WINDOW_BYTES,
  DEFAULT_SERVER_HOST,
  DEFAULT_SERVER_PORT,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_IDEMPOTENCY_TTL_MS,
  DEFAULT_JOB_TTL_MS,
  DEFAULT_MAX_JOBS,
  type Role,
} from '@restpipe/core';
import { DEFAULT_MAX_NONCES } from '@restpipe/signing';

export type FlagType = 'string' | 'int' | 'bool';

/** One command-line flag, its env variable (`RP_` + upper snake) and its default. */
export interface FlagSpec {
  readonly name: string;
  readonly type: FlagType;
  readonly roles: readonly Role[];
  readonly value?: string;
  readonly help: string;
  /** Per role where they differ; `undefined` means unset. */
  readonly defaults: Partial<Record<Role, string | number | boolean>>;
}

const both: readonly Role[] = ['server', 'client'];
const same = (value: string | number | boolean): Partial<Record<Role, string | number | boolean>> => ({ server: value, client: value });

export const FLAGS: readonly FlagSpec[] = [
  { name: 'listen', type: 'string', roles: ['server'], value: 'HOST:PORT', help: 'accept pipe connections (mutual TLS) here', defaults: { server: `${DEFAULT_LISTEN_HOST}:${DEFAULT_LISTEN_PORT}` } },
  { name: 'server', type: 'string', roles: ['client'], value: 'HOST:PORT[,HOST:PORT...]', help: 'the rp-server to connect to; with several (at most 16), a failed attempt or a lost connection moves on to the next, with the same backoff', defaults: { client: `${DEFAULT_SERVER_HOST}:${DEFAULT_SERVER_PORT}` } },
  { name: 'server-name', type: 'string', roles: ['client'], value: 'NAME', help: 'name every server certificate must carry (default: the HOST of each --server entry)', defaults: {} },
  { name: 'gateway', type: 'string', roles: both, value: 'HOST:PORT|unix:/path.sock|off', help: 'local REST gateway', defaults: { server: '127.0.0.1:8000', client: '127.0.0.1:8001' } },
  { name: 'cert', type: 'string', roles: both, value: 'FILE', help: 'this node\'s certificate (PEM)', defaults: { server: 'certs/server.crt.pem', client: 'certs/client.crt.pem' } },
  { name: 'key', type: 'string', roles: both, value: 'FILE', help: 'this node\'s private key (PEM, mode 0600)', defaults: { server: 'certs/server.key.pem', client: 'certs/client.key.pem' } },
  { name: 'ca', type: 'string', roles: both, value: 'FILE', help: 'CA certificate that signs the peers (PEM)', defaults: same('certs/ca.crt.pem') },
  { name: 'crl', type: 'string', roles: ['server'], value: 'FILE', help: 'certificate revocation list (PEM); reloaded on SIGHUP; still enforced past its nextUpdate (with a warning)', defaults: {} },
  { name: 'ticket-keys-file', type: 'string', roles: ['server'], value: 'FILE', help: '48 bytes (mode 0600) that encrypt TLS session tickets: clients resume across restarts; re-read on SIGHUP', defaults: {} },
  { name: 'handler', type: 'string', roles: both, value: 'MODULE[#EXPORT]', help: 'EventHandler class to dispatch events to (.ts, .js, .mjs; default: built-in time/cat)', defaults: {} },
  { name: 'statsd', type: 'string', roles: both, value: 'HOST:PORT|off', help: 'StatsD destination', defaults: same('localhost:8125') },
  { name: 'statsd-prefix', type: 'string', roles: both, value: 'PREFIX', help: 'metric name prefix', defaults: { server: 'restpipe.server', client: 'restpipe.client' } },
  { name: 'heartbeat-ms', type: 'int', roles: both, value: 'MS', help: 'Ping interval, 1 to 300000 (peers cap a longer one); a peer silent for 3 intervals is dead', defaults: same(DEFAULT_HEARTBEAT_MS) },
  { name: 'timeout-ms', type: 'int', roles: both, value: 'MS', help: 'default reply deadline (X-Event-Timeout-Ms overrides)', defaults: same(DEFAULT_TIMEOUT_MS) },
  { name: 'connect-wait-ms', type: 'int', roles: both, value: 'MS', help: 'how long a request waits for an absent peer', defaults: same(DEFAULT_CONNECT_WAIT_MS) },
  { name: 'max-event-bytes', type: 'int', roles: both, value: 'BYTES', help: 'largest event body', defaults: same(DEFAULT_MAX_EVENT_BYTES) },
  { name: 'max-in-flight', type: 'int', roles: both, value: 'N', help: 'both ways: our requests awaiting replies on a connection (or waiting for an absent peer), and the peer\'s events queued on a connection behind the running handlers; past it, 503', defaults: same(DEFAULT_MAX_IN_FLIGHT) },
  { name: 'max-concurrency', type: 'int', roles: both, value: 'N', help: 'handlers running at once per connection', defaults: same(DEFAULT_MAX_CONCURRENCY) },
  { name: 'max-inbound-bytes', type: 'int', roles: both, value: 'BYTES', help: 'bodies of inbound events held per connection, queued or running; past it the connection is not read until handlers finish', defaults: same(DEFAULT_MAX_INBOUND_BYTES) },
  { name: 'stream-window-bytes', type: 'int', roles: both, value: 'BYTES', help: 'window granted to each stream this node receives: the most of one streamed body held here or on its way (at least 65536)', defaults: same(DEFAULT_STREAM_WINDOW_BYTES) },
  { name: 'max-stream-bytes', type: 'int', roles: both, value: 'BYTES', help: 'largest streamed body, either way; past it, 413 (0: no limit)', defaults: same(0) },
  { name: 'max-streams', type: 'int', roles: both, value: 'N', help: 'streams one connection receives at once; more are refused with 503', defaults: same(DEFAULT_MAX_STREAMS) },
  { name: 'node-id', type: 'string', roles: ['server'], value: 'ID', help: 'this server node\'s name (its data directory, and its cluster name)', defaults: { server: 'HOSTNAME-PORT' } },
  { name: 'cluster', type: 'string', roles: ['server'], value: 'nats://H:P[,nats://H:P...]|off', help: 'join a cluster of rp-servers on NATS (nats-server): a client of any node is reached from every node', defaults: { server: 'off' } },
  { name: 'cluster-ca', type: 'string', roles: ['server'], value: 'FILE', help: 'CA that signs the NATS servers\' certificates (PEM): NATS over TLS', defaults: {} },
  { name: 'cluster-cert', type: 'string', roles: ['server'], value: 'FILE', help: 'this node\'s certificate for NATS (PEM), with --cluster-key', defaults: {} },
  { name: 'cluster-key', type: 'string', roles: ['server'], value: 'FILE', help: 'this node\'s private key for NATS (PEM)', defaults: {} },
  { name: 'data-dir', type: 'string', roles: both, value: 'DIR|off', help: 'where jobs and idempotency keys are kept (SQLite, one process per directory); off: Prefer: respond-async, Idempotency-Key and /_rp/jobs answer 501', defaults: { server: 'data/server-NODE_ID', client: 'data/client-NAME' } },
  { name: 'job-ttl-ms', type: 'int', roles: both, value: 'MS', help: 'how long a job is delivered and retried before it expires (X-Job-Ttl-Ms overrides)', defaults: same(DEFAULT_JOB_TTL_MS) },
  { name: 'max-jobs', type: 'int', roles: both, value: 'N', help: 'unfinished jobs (queued, running, on hold) kept at once; past it, 503', defaults: same(DEFAULT_MAX_JOBS) },
  { name: 'idempotency-ttl-ms', type: 'int', roles: both, value: 'MS', help: 'how long the reply of an idempotency key is kept for a repeat', defaults: same(DEFAULT_IDEMPOTENCY_TTL_MS) },
  { name: 'api-key-file', type: 'string', roles: both, value: 'FILE', help: 'require Authorization: Bearer KEY on the gateway (health excepted)', defaults: {} },
  { name: 'signing-keys-file', type: 'string', roles: both, value: 'FILE', help: 'JSON {"KEYID":"SECRET",...} (mode 0600; re-read on SIGHUP): require an RFC 9421 hmac-sha256 signature by one of these keys on the gateway (health excepted; with --api-key-file, either one)', defaults: {} },
  { name: 'max-nonces', type: 'int', roles: both, value: 'N', help: 'nonces of signed requests remembered at once, each for 660 s (about 400 signed requests/s by default); past it, 503 until old ones age out', defaults: same(DEFAULT_MAX_NONCES) },
  { name: 'tls-min-version', type: 'string', roles: both, value: 'TLSv1.3|TLSv1.2', help: 'oldest TLS accepted (TLSv1.2 with AEAD ciphers only)', defaults: same('TLSv1.3') },
  { name: 'log-level', type: 'string', roles: both, value: 'LEVEL', help: 'fatal, error, warn, info, debug, trace or silent', defaults: same('info') },
  { name: 'expose-tracebacks', type: 'bool', roles: both, help: 'send handler stack traces in exception envelopes', defaults: same(false) },
  { name: 'gateway-socket-mode', type: 'string', roles: both, value: 'OCTAL', help: 'file mode of a unix socket gateway', defaults: same('0600') },
  { name: 'config', type: 'string', roles: both, value: 'FILE.json', help: 'read flags from a JSON file (flags and env win)', defaults: {} },
];

/** `heartbeat-ms` -> `RP_HEARTBEAT_MS`. */
export function envName(flag: string): string {
  return `RP_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** `heartbeat-ms` -> `heartbeatMs`, also accepted as a key in --config files. */
export function camelName(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** RestPipe's environment names, accepted as aliases. */
export const ENV_ALIASES: Readonly<Record<string, string>> = {
  RP_CLIENT_TARGET_HOSTNAME: 'server (host)',
  RP_CLIENT_TARGET_PORT: 'server (port)',
  RP_SERVER_BIND_INTERFACE: 'listen (host)',
  RP_SERVER_BIND_PORT: 'listen (port)',
  BIND_IP: 'listen (host)',
  BIND_PORT: 'listen (port)',
  RP_EVENT_HANDLER_FQ_CLASS: 'handler',
  RP_STATSD_HOST: 'statsd (host; empty means off)',
  RP_STATSD_PORT: 'statsd (port)',
  DEBUG: 'log-level debug and expose-tracebacks, when 1',
};

export function flagsFor(role: Role): FlagSpec[] {
  return FLAGS.filter((f) => f.roles.includes(role));
}

/** A flag's default for `role`, as its text; undefined when it has none. */
export function flagDefault(name: string, role: Role): string | undefined {
  const value = FLAGS.find((f) => f.name === name)?.defaults[role];
  return value === undefined ? undefined : String(value);
}

export function helpText(role: Role): string {
  const command = role === 'server' ? 'rp-server' : 'rp-client';
  const job = role === 'server'
    ? 'accept mutual-TLS pipe connections from clients and run the server\'s gateway'
    : 'hold one pipe connection to rp-server (reconnecting forever) and run the client\'s gateway';
  const lines = [`${command}: ${job}`, '', `usage: ${command} [flags]`, '', 'flags (a flag beats its env variable, which beats --config, which beats the default):'];
  for (const flag of [...flagsFor(role), { name: 'help', type: 'bool', roles: both, help: 'this text', defaults: {} } as FlagSpec]) {
    const left = `  --${flag.name}${flag.value ? ` ${flag.value}` : ''}`;
    const fallback = flag.defaults[role];
    const dflt = fallback === undefined ? 'none' : String(fallback);
    const env = flag.name === 'help' ? '' : `; env ${envName(flag.name)}`;
    lines.push(`${left.padEnd(44)} ${flag.help}`, `${''.padEnd(44)} (default: ${dflt}${env})`);
  }
  lines.push('', 'RestPipe environment names accepted as aliases:');
  for (const [name, meaning] of Object.entries(ENV_ALIASES)) {
    if (role === 'server' && name.startsWith('RP_CLIENT_TARGET')) continue;
    if (role === 'client' && /BIND/.test(name)) continue;
    lines.push(`  ${name.padEnd(28)} ${meaning}`);
  }
  lines.push('', `signals: SIGHUP reloads certificate, key, CA and CRL${role === 'server' ? ' (and ticket keys)' : ''}; SIGTERM/SIGINT drain (up to 10 s) and exit 0.`, '');
  return lines.join('\n');
}
