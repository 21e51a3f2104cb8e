import { X509Certificate } from 'node:crypto';
import { readCrlEntries } from '@restpipe/certs';
import {
  peerNameFromCertificate,
  PipeClient,
  PipeServer,
  tuningOf,
  type EventHandler,
  type Logger,
  type PipeOptions,
  type TlsMaterial,
} from '@restpipe/core';
import type { NodeStatus, Send } from '@restpipe/gateway';
import type { NodeConfig } from './config.js';

/** The pipe side of a running node, as the gateway and the signal handlers see it. */
export interface PipeNode {
  readonly pipe: PipeServer | PipeClient;
  readonly status: NodeStatus;
  readonly send: Send;
  start(): Promise<string>;
  reload(tls: TlsMaterial): string;
  drain(timeoutMs: number): Promise<void>;
}

function pipeOptions(config: NodeConfig, tls: TlsMaterial, handler: EventHandler, logger: Logger): PipeOptions {
  return { ...tuningOf(config), tls, handler, logger, exposeTracebacks: config.exposeTracebacks };
}

/** This node's own name, from its certificate, as peers will see it. */
function ownName(certPem: string | Buffer): string {
  const cert = new X509Certificate(certPem);
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return peerNameFromCertificate({ subjectAltName: cert.subjectAltName, commonName: cn }) ?? 'unnamed';
}

export function serverNode(config: NodeConfig, tls: TlsMaterial, handler: EventHandler, logger: Logger): PipeNode {
  const server = new PipeServer({ ...pipeOptions(config, tls, handler, logger), host: config.listen.host, port: config.listen.port });
  return {
    pipe: server,
    status: {
      role: 'server',
      name: ownName(tls.cert),
      connected: () => server.connectionCount > 0,
      peers: () => server.connectionCount,
      ready: () => server.listening,
      clients: () => server.clients(),
    },
    send: (target, request) => server.request(target ?? '', request),
    start: async () => {
      const { host, port } = await server.listen();
      return `${host}:${port}`;
    },
    reload: (material) => {
      const revoked = material.crl ? new Set(readCrlEntries(String(material.crl)).map((e) => e.serialHex)) : new Set<string>();
      const closed = server.reload(material, revoked);
      return `reloaded; ${closed} revoked connection(s) closed`;
    },
    drain: (timeoutMs) => server.drain(timeoutMs),
  };
}

export function clientNode(config: NodeConfig, tls: TlsMaterial, handler: EventHandler, logger: Logger): PipeNode {
  const client = new PipeClient({
    ...pipeOptions(config, tls, handler, logger),
    host: config.server.host,
    port: config.server.port,
    serverName: config.serverName,
  });
  return {
    pipe: client,
    status: {
      role: 'client',
      name: ownName(tls.cert),
      connected: () => client.isConnected,
      peers: () => (client.isConnected ? 1 : 0),
      ready: () => client.isConnected,
    },
    send: (_target, request) => client.request(request),
    start: async () => {
      client.start();
      return `${config.server.host}:${config.server.port}`;
    },
    reload: (material) => {
      client.reload(material);
      return 'reloaded; the next connection uses the new certificate';
    },
    drain: (timeoutMs) => client.drain(timeoutMs),
  };
}
