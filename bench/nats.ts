import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { child, freePort, sleep, type Child } from './lib.js';

/** Where nats-server is, if installed (Debian: apt-get install nats-server). */
export function natsServerPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'PATH="$PATH:/usr/sbin:/sbin" command -v nats-server'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

export interface NatsSetup {
  url: string;
  stop(): Promise<void>;
}

/**
 * The same route through NATS request-reply over mutual TLS: an HTTP gateway
 * process and a responder process, both clients of a nats-server requiring
 * client certificates from the same CA.
 */
export async function startNats(certDir: string): Promise<NatsSetup | undefined> {
  const binary = natsServerPath();
  if (!binary) return undefined;
  const [natsPort, gatewayPort] = await Promise.all([freePort(), freePort()]);
  const conf = join(certDir, 'nats.conf');
  writeFileSync(conf, [
    `listen: 127.0.0.1:${natsPort}`,
    'max_payload: 8MB',
    'tls {',
    `  cert_file: "${join(certDir, 'server.crt.pem')}"`,
    `  key_file: "${join(certDir, 'server.key.pem')}"`,
    `  ca_file: "${join(certDir, 'ca.crt.pem')}"`,
    '  verify: true',
    '}',
  ].join('\n'));
  const server: ChildProcess = spawn(binary, ['-c', conf], { stdio: 'ignore' });
  await sleep(500);
  let responder: Child | undefined;
  let gateway: Child | undefined;
  try {
    responder = await child('nats-responder', [String(natsPort), certDir]);
    gateway = await child('nats-gateway', [String(gatewayPort), certDir, String(natsPort)]);
  } catch (error) {
    server.kill('SIGKILL');
    throw error;
  }
  return {
    url: `http://127.0.0.1:${gatewayPort}`,
    stop: async () => {
      await Promise.all([responder?.stop(), gateway?.stop()]);
      server.kill('SIGKILL');
    },
  };
}
