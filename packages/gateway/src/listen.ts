import { chmod, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '@restpipe/core';

export type GatewayAddress =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string; mode: number }
  | { kind: 'off' };

/** `127.0.0.1:8000`, `[::1]:8000`, `unix:/run/rp.sock` or `off`. */
export function parseGatewayAddress(text: string, socketMode: number): GatewayAddress {
  if (text === 'off') return { kind: 'off' };
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    if (!path.startsWith('/')) throw new ConfigError(`--gateway unix socket path must be absolute, got ${JSON.stringify(path)}`);
    return { kind: 'unix', path, mode: socketMode };
  }
  const { host, port } = parseHostPort(text, '--gateway');
  return { kind: 'tcp', host, port };
}

/** `host:port`, `[v6]:port`; port 0 to 65535. */
export function parseHostPort(text: string, flag: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2] ?? '';
  if (!match || !host || port > 65535) throw new ConfigError(`${flag} must be HOST:PORT, got ${JSON.stringify(text)}`);
  return { host, port };
}

/** Starts the gateway; returns what it listens on, e.g. `http://127.0.0.1:8000` or the socket path. */
export async function listenGateway(app: FastifyInstance, address: GatewayAddress): Promise<string | undefined> {
  switch (address.kind) {
    case 'off':
      await app.ready();
      return undefined;
    case 'tcp':
      return app.listen({ host: address.host, port: address.port });
    case 'unix':
      await removeStaleSocket(address.path);
      await listenUnix(app, address.path, address.mode);
      return address.path;
  }
}

/**
 * Listens on a unix socket that never has more than `mode`. A chmod after
 * listen() alone would leave it, for a while, with whatever the umask gives.
 * bind() makes the file with 0777 minus the umask, so around the one
 * server.listen() call Fastify makes, the umask also masks every bit `mode`
 * does not have. Node binds a pipe synchronously inside listen() (outside
 * cluster workers), so the process-wide umask is changed for that synchronous
 * call only, and only ever tightened: a file libuv's threadpool happened to
 * create in that instant could only get fewer bits. A chmod then adds the bits
 * of `mode` that the process umask took away.
 */
async function listenUnix(app: FastifyInstance, path: string, mode: number): Promise<void> {
  const server = app.server;
  const listen = server.listen;
  server.listen = function listenUnderUmask(this: typeof server, ...args: unknown[]) {
    server.listen = listen;
    const previous = process.umask(0o777 & ~mode);
    process.umask((0o777 & ~mode) | previous);
    try {
      return (listen as (...a: unknown[]) => typeof server).apply(this, args);
    } finally {
      process.umask(previous);
    }
  } as typeof listen;
  try {
    await app.listen({ path });
  } finally {
    server.listen = listen;
  }
  await chmod(path, mode);
}

/** A socket file nobody answers on is left from a crash: replace it. A live one is an error. */
async function removeStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (!stat) return;
  if (!stat.isSocket()) throw new ConfigError(`--gateway ${path} exists and is not a socket`);
  if (await answers(path)) throw new ConfigError(`--gateway ${path} is in use by another process`);
  await unlink(path);
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
