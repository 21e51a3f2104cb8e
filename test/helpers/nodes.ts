import { copyFileSync, mkdtempSync, mkdirSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, issueCertificate, type Identity } from '@restpipe/certs';
import { BIN, ROOT, startCli } from './cli.js';
import { waitFor } from './wait.js';

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** A temp dir with a CA, a server and named clients, written as rp-certs would. */
export class CertDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'rp-e2e-'));
  readonly ca: Identity = createCa();
  readonly hookLog: string;
  readonly handlerFile: string;

  constructor(clients: string[]) {
    mkdirSync(join(this.dir, 'certs'));
    this.write('ca', this.ca);
    this.write('server', issueCertificate(this.ca, 'server', { name: 'server' }));
    for (const name of clients) this.write(name, issueCertificate(this.ca, 'client', { name }));
    this.hookLog = join(this.dir, 'hooks.log');
    writeFileSync(this.hookLog, '');
    // A user's handler project: ESM, with no restpipe of its own installed.
    writeFileSync(join(this.dir, 'package.json'), '{ "type": "module", "private": true }\n');
    this.handlerFile = join(this.dir, 'handlers.ts');
    copyFileSync(join(ROOT, 'test/fixtures/handlers.ts'), this.handlerFile);
  }

  write(name: string, identity: Identity): void {
    writeFileSync(this.path(name, 'crt'), identity.certPem);
    writeFileSync(this.path(name, 'key'), identity.keyPem);
    chmodSync(this.path(name, 'key'), 0o600);
  }

  path(name: string, kind: 'crt' | 'key'): string {
    return join(this.dir, 'certs', `${name}.${kind}.pem`);
  }
}

export type NodeProcess = ReturnType<typeof startCli> & { gateway: string; stop(): Promise<number | null> };

/** Starts rp-server or rp-client and resolves once it logged that it is ready. */
export async function startNode(role: 'server' | 'client', certs: CertDir, name: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<NodeProcess> {
  const gatewayPort = await freePort();
  const child = startCli(role === 'server' ? BIN.server : BIN.client, [
    '--cert', certs.path(name, 'crt'),
    '--key', certs.path(name, 'key'),
    '--ca', certs.path('ca', 'crt'),
    '--gateway', `127.0.0.1:${gatewayPort}`,
    // Off unless the test decides, by flag or by RestPipe's env name.
    ...(args.includes('--statsd') || 'RP_STATSD_HOST' in env ? [] : ['--statsd', 'off']),
    '--handler', `${certs.handlerFile}#${role === 'server' ? 'ServerSide' : 'ClientSide'}`,
    ...args,
  ], { cwd: certs.dir, env: { HOOK_LOG: certs.hookLog, ...env } });
  const node = Object.assign(child, {
    gateway: `http://127.0.0.1:${gatewayPort}`,
    stop: (): Promise<number | null> => {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
      child.kill('SIGTERM');
      return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    },
  });
  try {
    await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`rp-${role} exited ${child.exitCode}: ${child.output()}`);
      return child.output().includes(`"msg":"rp-${role} ready"`);
    }, `rp-${role} to be ready`, 20_000);
  } catch (error) {
    // Never left behind: the caller has no handle on a node that did not come up.
    child.kill('SIGKILL');
    throw error;
  }
  return node;
}

export interface NodePair {
  server: NodeProcess;
  client: NodeProcess;
  pipePort: number;
}

/** rp-server on a free loopback port and rp-client `node-a` dialling it; resolves once the pipe is up. */
export async function startPair(certs: CertDir, serverArgs: string[] = [], clientArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<NodePair> {
  const pipePort = await freePort();
  const server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, ...serverArgs], env);
  const client = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', ...clientArgs], env);
  await waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`)).ok, 'the pipe to be up');
  return { server, client, pipePort };
}
