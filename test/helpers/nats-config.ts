import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCa, issueCertificate, type Identity } from '@restpipe/certs';

/**
 * restpipe sends an event body of up to --max-event-bytes through NATS as one message, not in
 * chunks, and the NATS default max_payload is 1 MB. 8 MB is the largest value nats-server 2.9
 * takes without warning ("Maximum payloads over 8.00 MB are generally discouraged"); it refuses
 * anything above max_pending (64 MB).
 */
export const NATS_MAX_PAYLOAD = '8MB';
export const NATS_MAX_PAYLOAD_BYTES = 8 * 1024 * 1024;
export const NATS_CLUSTER_NAME = 'rp';

/** The ports of one server of the cluster, all on 127.0.0.1. */
export interface NatsPorts {
  client: number;
  route: number;
  monitor: number;
}

/** File paths of the TLS material: `ca`, `cert` and `key` are what a NATS client presents. */
export interface NatsTlsFiles {
  ca: string;
  cert: string;
  key: string;
  serverCert: string;
  serverKey: string;
}

export interface NatsConfigOptions {
  name: string;
  ports: NatsPorts;
  /** The route ports of the other servers. */
  peers: readonly number[];
  maxPayload: string;
  tls: NatsTlsFiles | undefined;
  /** Extra top-level lines, written as given. */
  extra: readonly string[];
}

/** A nats-server config file's text: one server of a flat routed cluster, no leaf nodes, no JetStream. */
export function natsConfig(options: NatsConfigOptions): string {
  const { name, ports, peers, maxPayload, tls, extra } = options;
  const q = (text: string): string => JSON.stringify(text);
  return [
    '# Written by test/helpers/nats-cluster.ts for one test run.',
    `server_name: ${q(name)}`,
    `listen: ${q(`127.0.0.1:${ports.client}`)}`,
    `http: ${q(`127.0.0.1:${ports.monitor}`)}`,
    `# restpipe sends --max-event-bytes bodies through NATS unchunked; the NATS default is 1 MB.`,
    `max_payload: ${maxPayload}`,
    'cluster {',
    `  name: ${q(NATS_CLUSTER_NAME)}`,
    `  listen: ${q(`127.0.0.1:${ports.route}`)}`,
    `  routes: [${peers.map((port) => q(`nats-route://127.0.0.1:${port}`)).join(', ')}]`,
    '}',
    ...(tls ? tlsBlock(tls, q) : []),
    ...extra,
    '',
  ].join('\n');
}

function tlsBlock(tls: NatsTlsFiles, q: (text: string) => string): string[] {
  return [
    '# Client connections only: routes and the monitoring port stay plain.',
    'tls {',
    `  cert_file: ${q(tls.serverCert)}`,
    `  key_file: ${q(tls.serverKey)}`,
    `  ca_file: ${q(tls.ca)}`,
    '  verify: true',
    // The default (0.5 s) is short for a 2048-bit handshake on a loaded CI machine.
    '  timeout: 5',
    '}',
  ];
}

/**
 * A fresh CA, a server certificate for 127.0.0.1/localhost and a client certificate named
 * `clientName`, written under `dir` as PEM files (keys 0600).
 */
export function writeNatsTls(dir: string, clientName: string, ca: Identity = createCa({ commonName: 'restpipe test NATS CA' })): NatsTlsFiles {
  mkdirSync(dir, { recursive: true });
  const write = (name: string, text: string, mode = 0o644): string => {
    const file = join(dir, name);
    writeFileSync(file, text);
    chmodSync(file, mode);
    return file;
  };
  const server = issueCertificate(ca, 'server', { name: 'nats' });
  const client = issueCertificate(ca, 'client', { name: clientName });
  return {
    ca: write('ca.crt.pem', ca.certPem),
    cert: write('client.crt.pem', client.certPem),
    key: write('client.key.pem', client.keyPem, 0o600),
    serverCert: write('server.crt.pem', server.certPem),
    serverKey: write('server.key.pem', server.keyPem, 0o600),
  };
}
