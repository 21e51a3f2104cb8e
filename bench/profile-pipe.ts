/**
 * `node --import tsx bench/profile-pipe.ts [inFlight] [seconds] [profileDir]`:
 * a PipeClient here and a PipeServer in a child process (bench/child.ts), echoing
 * 16-byte bodies with `inFlight` requests kept going. Prints req/s and the CPU
 * each side spent per request; with a profileDir, both sides write `--cpu-prof`
 * profiles there (this side needs `--cpu-prof` on its own command line).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { PipeClient } from '@restpipe/core';
import { benchCerts, child, freePort } from './lib.js';

const inFlight = Number(process.argv[2] ?? 64);
const seconds = Number(process.argv[3] ?? 5);
const profileDir = process.argv[4];
const certDir = join(tmpdir(), 'restpipe-bench-certs-20');
benchCerts(certDir, 20);
const read = (f: string) => readFileSync(join(certDir, f), 'utf8');
const port = await freePort();
const server = await child('pipe-server', [String(port), certDir], {}, profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []);
const client = new PipeClient({ tls: { cert: read('client.crt.pem'), key: read('client.key.pem'), ca: read('ca.crt.pem') }, host: '127.0.0.1', port, serverName: 'localhost' }).start();
await client.connected(10_000);
const body = Buffer.alloc(16, 0x63);
let done = 0;
const serverCpu = await server.cpuMs();
const ownCpu = process.cpuUsage();
const started = performance.now();
const end = started + seconds * 1000;
await Promise.all(Array.from({ length: inFlight }, async () => {
  while (performance.now() < end) {
    await client.request(process.env.FAST ? { verb: 'post', noun: ['echo'], body, requestId: 'r', mimeType: 'a/b' } : { verb: 'post', noun: 'echo', body });
    done += 1;
  }
}));
const elapsed = (performance.now() - started) / 1000;
const own = process.cpuUsage(ownCpu);
const serverUs = ((await server.cpuMs()) - serverCpu) * 1000;
const perRequest = (us: number): string => (us / done).toFixed(2);
process.stdout.write(`${Math.round(done / elapsed)} req/s with ${inFlight} in flight; CPU per request: client ${perRequest(own.user + own.system)} us, server ${perRequest(serverUs)} us\n`);
await client.close();
await server.exit();
