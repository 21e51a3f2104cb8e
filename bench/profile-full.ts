/**
 * `node --import tsx bench/profile-full.ts [connections] [seconds] [profileDir]`:
 * real `rp-server` and `rp-client` processes, autocannon on the client gateway's
 * `GET /server/time`. Prints req/s and the CPU each process spent per request
 * (from /proc); with a profileDir, both write `--cpu-prof` profiles there.
 * BENCH_BODY_BYTES=N posts N-byte bodies to `/server/echo` instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { benchCerts, freePort, ROOT, sleep } from './lib.js';

const connections = Number(process.argv[2] ?? 64);
const seconds = Number(process.argv[3] ?? 5);
const profileDir = process.argv[4];
const bodyBytes = Number(process.env['BENCH_BODY_BYTES'] ?? 0);
const load = bodyBytes > 0
  ? { method: 'POST' as const, body: Buffer.alloc(bodyBytes, 0x61), headers: { 'content-type': 'application/octet-stream' }, path: '/server/echo' }
  : { method: 'GET' as const, path: '/server/time' };
const certDir = join(tmpdir(), 'restpipe-bench-certs-20');
benchCerts(certDir, 20);

function start(bin: string, args: string[]): ChildProcess {
  const prof = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  return spawn(process.execPath, [...prof, join(ROOT, 'packages/cli/bin', bin), ...args, '--ca', join(certDir, 'ca.crt.pem'), '--statsd', 'off', ...(process.env['BENCH_FLAGS']?.split(' ').filter(Boolean) ?? [])], { cwd: ROOT, stdio: 'ignore' });
}

/** user + system CPU of a process so far, in ms (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const [pipePort, gatewayPort] = await Promise.all([freePort(), freePort()]);
const server = start('rp-server.js', ['--listen', `127.0.0.1:${pipePort}`, '--gateway', 'off', '--handler', './examples/server-handler.ts',
  '--cert', join(certDir, 'server.crt.pem'), '--key', join(certDir, 'server.key.pem')]);
const client = start('rp-client.js', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', '--gateway', `127.0.0.1:${gatewayPort}`,
  '--cert', join(certDir, 'client.crt.pem'), '--key', join(certDir, 'client.key.pem')]);
const url = `http://127.0.0.1:${gatewayPort}`;
for (let i = 0; i < 300 && !(await fetch(`${url}/_rp/ready`).then((r) => r.ok, () => false)); i++) await sleep(100);
const { path, ...request } = load;
await autocannon({ url: url + path, connections, duration: 1, ...request });
const before = [cpuMs(client.pid!), cpuMs(server.pid!)];
const result = await autocannon({ url: url + path, connections, duration: seconds, ...request });
const after = [cpuMs(client.pid!), cpuMs(server.pid!)];
const per = (i: number): string => ((1000 * (after[i]! - before[i]!)) / result.requests.total).toFixed(1);
process.stdout.write(`${Math.round(result.requests.average)} req/s at c${connections} (${result.non2xx} non-2xx); CPU per request: rp-client ${per(0)} us, rp-server ${per(1)} us\n`);
const exited = (p: ChildProcess) => new Promise((r) => p.once('exit', r));
const gone = Promise.all([exited(client), exited(server)]);
client.kill('SIGTERM');
server.kill('SIGTERM');
await gone;
