import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { child, freePort, sleep, type Child } from './lib.js';

/** Where a program is, if installed; sshd lives in /usr/sbin. */
function which(program: string): string | undefined {
  const found = spawnSync('sh', ['-c', `PATH="$PATH:/usr/sbin:/sbin" command -v ${program}`], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

export interface SshSetup {
  url: string;
  stop(): Promise<void>;
}

/** Why the tunnel cannot be measured here, or undefined when it can. */
export function sshMissing(): string | undefined {
  const absent = ['sshd', 'ssh', 'ssh-keygen'].filter((p) => !which(p));
  return absent.length > 0 ? `${absent.join(', ')} not installed (apt-get install openssh-server openssh-client)` : undefined;
}

function keygen(file: string): void {
  const made = spawnSync(which('ssh-keygen')!, ['-q', '-t', 'ed25519', '-N', '', '-f', file], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`bench: ssh-keygen failed: ${made.stderr}`);
}

/** A private sshd on loopback that lets one key in and allows remote forwarding. */
function sshdConfig(dir: string, port: number): string {
  return [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_key')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'client_key.pub')}`,
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'PermitRootLogin prohibit-password',
    'AllowTcpForwarding remote',
    'GatewayPorts no',
    'LogLevel ERROR',
    '',
  ].join('\n');
}

async function until(check: () => Promise<boolean>, what: string, proc: ChildProcess): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (proc.exitCode !== null) throw new Error(`bench: ${what}: process exited ${proc.exitCode}`);
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`bench: ${what} never came up`);
}

/**
 * The same routes through an SSH reverse tunnel, the way users expose a service
 * behind a firewall: a Fastify process answers the routes on the "client" side,
 * `ssh -R` (Debian's OpenSSH, default ciphers) carries them to a private `sshd`
 * on loopback, and the load goes to the port sshd opens.
 */
export async function startSshTunnel(): Promise<SshSetup | undefined> {
  if (sshMissing()) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'rp-bench-ssh-'));
  keygen(join(dir, 'host_key'));
  keygen(join(dir, 'client_key'));
  const [sshdPort, handlerPort, tunnelPort] = await Promise.all([freePort(), freePort(), freePort()]);
  writeFileSync(join(dir, 'sshd_config'), sshdConfig(dir, sshdPort));
  // Run as root, sshd wants its privilege-separation directory to exist.
  if (process.getuid?.() === 0) mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const sshd = spawn(which('sshd')!, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let sshdErrors = '';
  sshd.stderr!.on('data', (d: Buffer) => (sshdErrors += d.toString()));
  let handler: Child | undefined;
  let ssh: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    ssh?.kill('SIGKILL');
    await handler?.stop();
    sshd.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    handler = await child('bare-fastify', [String(handlerPort)]);
    ssh = spawn(which('ssh')!, [
      '-N', '-T', '-p', String(sshdPort), '-i', join(dir, 'client_key'),
      '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ExitOnForwardFailure=yes', '-o', 'LogLevel=ERROR',
      '-R', `127.0.0.1:${tunnelPort}:127.0.0.1:${handlerPort}`, `${userInfo().username}@127.0.0.1`,
    ], { stdio: 'ignore' });
    const url = `http://127.0.0.1:${tunnelPort}`;
    await until(() => fetch(`${url}/server/time`).then((r) => r.ok, () => false), 'the ssh -R tunnel', ssh);
    return { url, stop };
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}${sshdErrors ? `; sshd said: ${sshdErrors.trim()}` : ''}`);
  }
}

/** The ssh client's version line, for the report. */
export function sshVersion(): string {
  const ssh = which('ssh');
  if (!ssh) return '';
  return spawnSync(ssh, ['-V'], { encoding: 'utf8' }).stderr.trim();
}
