/**
 * Streams (SPEC §12), measured side by side in one run: bulk MB/s of one large body
 * each way through a real rp-client's gateway and rp-server (bench/stream-handler.ts)
 * against a raw node:tls copy of the same bytes, `ssh -R` to a plain HTTP server, and
 * that server direct; the RSS of both nodes during the transfers; the p99 of small GETs
 * one at a time, idle and beside a bulk transfer on the same pipe; and 64 KiB and 1 MiB
 * echo at c64 against bare Fastify and `ssh -R` (full-path.ts's load()).
 *
 * BENCH_STREAM_BYTES (1 GiB) sets the size of each bulk transfer; BENCH_STREAM_LOGS=DIR keeps
 * the two nodes' JSON logs in DIR (rp-server.log, rp-client.log).
 */
import { createWriteStream, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { tlsBulk, type TlsFiles } from './bulk-floor.js';
import { cpuMeter, SELF } from './cluster-cpu.js';
import { freshDir, startCli, waitOk, type CliNode } from './cli-node.js';
import { load, type Payload } from './full-path.js';
import { child, freePort, percentile, procCpuMs, type Child } from './lib.js';
import { sampleRss, type RssReading } from './rss-sampler.js';
import { sshMissing, startSshTunnel, type SshSetup } from './ssh.js';
import { httpDownload, httpUpload, smallLoop } from './stream-http.js';
import {
  BARE, DIRECTIONS, ECHO_1M, ECHO_64K, ECHO_CONNECTIONS, PLAIN, RAW_TLS, RESTPIPE, SMALL_WHEN, SSH, StreamSamples,
  type Direction, type MemorySample, type SmallWhen, type StreamResult,
} from './stream-result.js';

export const STREAM_BYTES = Number(process.env['BENCH_STREAM_BYTES'] ?? 2 ** 30);
const LOGS = process.env['BENCH_STREAM_LOGS'];
export const WARM_UP_BYTES = Math.min(STREAM_BYTES, 64 * 2 ** 20);

interface Setup {
  server: CliNode;
  client: CliNode;
  gateway: string;
  bare: Child;
  bareUrl: string;
  floor: Child;
  floorPort: number;
  files: TlsFiles;
  ssh: SshSetup | undefined;
  /** Ends what `start` started, newest first. */
  stop(): Promise<void>;
}

function node(bin: string, args: string[], logName: string): CliNode {
  const started = startCli(bin, args, LOGS ? 'pipe' : 'ignore');
  if (LOGS) {
    mkdirSync(LOGS, { recursive: true });
    started.proc.stdout!.pipe(createWriteStream(join(LOGS, logName)));
  }
  return started;
}

/** Starts every process; if one fails to come up, ends those already started. */
async function start(certDir: string): Promise<Setup> {
  const stoppers: Array<() => Promise<void> | void> = [];
  const stop = async (): Promise<void> => {
    for (const end of stoppers.reverse()) await end();
  };
  try {
    const [pipePort, serverGw, clientGw, barePort, floorPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const tls = ['--ca', join(certDir, 'ca.crt.pem'), '--statsd', 'off'];
    const dataDir = freshDir('stream');
    stoppers.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const server = node('rp-server.js', ['--listen', `127.0.0.1:${pipePort}`, '--gateway', `127.0.0.1:${serverGw}`, '--handler', './bench/stream-handler.ts',
      '--cert', join(certDir, 'server.crt.pem'), '--key', join(certDir, 'server.key.pem'), '--data-dir', join(dataDir, 'server'), ...tls], 'rp-server.log');
    stoppers.push(() => void server.proc.kill('SIGKILL'));
    const client = node('rp-client.js', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', '--gateway', `127.0.0.1:${clientGw}`,
      '--cert', join(certDir, 'client.crt.pem'), '--key', join(certDir, 'client.key.pem'), '--data-dir', join(dataDir, 'client'), ...tls], 'rp-client.log');
    stoppers.push(() => void client.proc.kill('SIGKILL'));
    const bare = await child('bare-fastify', [String(barePort)]);
    stoppers.push(() => bare.stop());
    const floor = await child('tls-bulk', [String(floorPort), certDir]);
    stoppers.push(() => floor.stop());
    const ssh = await startSshTunnel();
    if (ssh) stoppers.push(() => ssh.stop());
    await waitOk(`http://127.0.0.1:${serverGw}/_rp/ready`, server);
    await waitOk(`http://127.0.0.1:${clientGw}/_rp/ready`, client);
    const read = (name: string): string => readFileSync(join(certDir, name), 'utf8');
    const files = { cert: read('client.crt.pem'), key: read('client.key.pem'), ca: read('ca.crt.pem') };
    return { server, client, gateway: `http://127.0.0.1:${clientGw}`, bare, bareUrl: `http://127.0.0.1:${barePort}`, floor, floorPort, files, ssh, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

type Move = (direction: Direction, bytes: number) => Promise<number>;

/** Each bulk target: one transfer of `bytes`, resolving the ms it took. */
function bulkTargets(s: Setup): Array<[string, Move]> {
  const http = (url: string): Move => async (direction, bytes) =>
    (direction === 'download' ? await httpDownload(`${url}/server/bulk//${bytes}`, bytes) : await httpUpload(`${url}/server/sink`, bytes)).ms;
  const raw: Move = async (direction, bytes) => (await tlsBulk(s.files, s.floorPort, direction === 'download' ? 'get' : 'post', bytes)).ms;
  return [[RESTPIPE, http(s.gateway)], [RAW_TLS, raw], ...(s.ssh ? [[SSH, http(s.ssh.url)] as [string, Move]] : []), [PLAIN, http(s.bareUrl)]];
}

function echoTargets(s: Setup): Array<[string, string]> {
  return [[BARE, s.bareUrl], [RESTPIPE, s.gateway], ...(s.ssh ? [[SSH, s.ssh.url] as [string, string]] : [])];
}

const PAYLOADS: Payload[] = [
  { name: ECHO_64K, path: '/server/echo', body: Buffer.alloc(64 * 1024, 0x61) },
  { name: ECHO_1M, path: '/server/echo', body: Buffer.alloc(1024 * 1024, 0x62) },
];

const mbPerSec = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);
const say = (line: string): void => void process.stderr.write(`  stream ${line}\n`);

/** Run `run` starts with item `run % n`, so that no target always goes first. */
function rotate<T>(items: T[], run: number): T[] {
  const k = run % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Starts reading the CPU of the bench's processes (ssh and sshd excepted) and of the machine. */
function ourCpu(s: Setup): ReturnType<typeof cpuMeter> {
  return cpuMeter({ 'rp-server': s.server.proc.pid!, 'rp-client': s.client.proc.pid!, bare: s.bare.proc.pid!, floor: s.floor.proc.pid!, bench: SELF });
}

/** One measured restpipe transfer, with both nodes' RSS sampled and their CPU read around it. */
async function restpipeTransfer(s: Setup, move: () => Promise<number>): Promise<{ ms: number; samples: MemorySample[] }> {
  const pids = [s.server.proc.pid!, s.client.proc.pid!];
  const cpu = pids.map(procCpuMs);
  const rss = sampleRss(pids);
  let readings: RssReading[] = [];
  let ms: number;
  try {
    ms = await move();
  } finally {
    readings = rss.stop();
  }
  return { ms, samples: pids.map((pid, i) => ({ reading: readings[i]!, cpuMs: procCpuMs(pid) - cpu[i]! })) };
}

/** Small GETs one at a time: idle for `seconds`, or beside one restpipe transfer, from its start to its end. */
async function smallEvents(s: Setup, when: SmallWhen, seconds: number, bytes: number): Promise<{ times: number[]; bulkMbPerSec: number }> {
  const url = `${s.gateway}/server/time`;
  if (when === 'idle') {
    const end = performance.now() + seconds * 1000;
    return { times: await smallLoop(url, () => performance.now() > end), bulkMbPerSec: NaN };
  }
  let done = false;
  let begin!: () => void;
  const begun = new Promise<void>((resolve) => (begin = resolve));
  // A download's GETs start once its answer has; an upload's at once.
  const transfer = when === 'during download' ? httpDownload(`${s.gateway}/server/bulk//${bytes}`, bytes, begin) : httpUpload(`${s.gateway}/server/sink`, bytes);
  if (when === 'during upload') begin();
  const finished = transfer.finally(() => (done = true));
  await Promise.race([begun, finished]);
  const [times, result] = await Promise.all([smallLoop(url, () => done), finished]);
  return { times, bulkMbPerSec: mbPerSec(bytes, result.ms) };
}

/** `measure()`, or, when it fails, the failure recorded (and the run goes on). Run 0 is the warm-up. */
async function attempt<T>(samples: StreamSamples, run: number, what: string, measure: () => Promise<T>): Promise<T | undefined> {
  samples.transfers += 1;
  if (what.includes(RESTPIPE)) samples.restpipeTransfers += 1;
  try {
    return await measure();
  } catch (error) {
    samples.failures.push({ run, what, error: (error as Error).message });
    say(`${run ? `run ${run}` : 'warm-up'}: ${what}: FAILED: ${(error as Error).message}`);
    return undefined;
  }
}

async function bulkRound(s: Setup, samples: StreamSamples, run: number): Promise<void> {
  for (const direction of DIRECTIONS) {
    for (const [target, move] of rotate(bulkTargets(s), run)) {
      const what = `${direction} ${target}`;
      const meter = ourCpu(s);
      const measured = await attempt(samples, run + 1, what, () => (target === RESTPIPE
        ? restpipeTransfer(s, () => move(direction, samples.bytes))
        : move(direction, samples.bytes).then((ms) => ({ ms, samples: [] }))));
      const { otherCores } = meter();
      if (!measured) continue;
      samples.bulk(target, direction, mbPerSec(samples.bytes, measured.ms), target === SSH ? NaN : otherCores);
      measured.samples.forEach((sample, i) => samples.memory(i === 0 ? 'rp-server' : 'rp-client', direction, sample));
      say(`run ${run + 1}: ${what}: ${mbPerSec(samples.bytes, measured.ms).toFixed(0)} MB/s`);
    }
  }
}

async function smallRound(s: Setup, samples: StreamSamples, run: number, seconds: number): Promise<void> {
  for (const when of SMALL_WHEN) {
    const measure = (): ReturnType<typeof smallEvents> => smallEvents(s, when, seconds, samples.bytes);
    const meter = ourCpu(s);
    const measured = when === 'idle' ? await measure() : await attempt(samples, run + 1, `restpipe ${when.slice('during '.length)} beside small GETs`, measure);
    const { otherCores } = meter();
    if (!measured) continue;
    samples.small(when, measured.times, measured.bulkMbPerSec, otherCores);
    say(`run ${run + 1}: small GETs ${when}: ${measured.times.length}, p99 ${percentile(measured.times, 99).toFixed(3)} ms`);
  }
}

async function echoRound(s: Setup, samples: StreamSamples, run: number, seconds: number): Promise<void> {
  for (const payload of PAYLOADS) {
    for (const [target, url] of rotate(echoTargets(s), run)) {
      const meter = ourCpu(s);
      const result = await load(url, payload, ECHO_CONNECTIONS, seconds);
      samples.echo(target, payload.name, result, target === SSH ? NaN : meter().otherCores);
      say(`run ${run + 1}: ${payload.name} c${ECHO_CONNECTIONS} ${target}: ${Math.round(result.requests.average)} req/s`);
    }
  }
}

/** Every bulk target each way once (64 MiB at most), and a short load on each echo target. */
async function warmUp(s: Setup, samples: StreamSamples): Promise<{ contentLength: string | undefined; cipher: string }> {
  const first = await attempt(samples, 0, `download ${RESTPIPE}`, () => httpDownload(`${s.gateway}/server/bulk//${WARM_UP_BYTES}`, WARM_UP_BYTES));
  const { cipher } = await tlsBulk(s.files, s.floorPort, 'get', 1);
  for (const [target, move] of bulkTargets(s)) for (const d of DIRECTIONS) await attempt(samples, 0, `${d} ${target}`, () => move(d, WARM_UP_BYTES));
  for (const [, url] of echoTargets(s)) await load(url, { name: 'warm-up', path: '/server/time' }, 8, 1);
  return { contentLength: first?.contentLength, cipher };
}

export async function streamBench(certDir: string, runs: number, seconds: number): Promise<StreamResult> {
  const before = loadavg()[0]!;
  let s: Setup | undefined;
  try {
    s = await start(certDir);
    if (!s.ssh) say(`ssh -R skipped: ${sshMissing()}`);
    const samples = new StreamSamples(STREAM_BYTES);
    const { contentLength, cipher } = await warmUp(s, samples);
    for (let run = 0; run < runs; run++) {
      await bulkRound(s, samples, run);
      await smallRound(s, samples, run, seconds);
      await echoRound(s, samples, run, seconds);
    }
    return {
      bytes: STREAM_BYTES, ...samples.summary(), contentLength, cipher,
      ...(s.ssh ? {} : { sshSkipped: sshMissing() ?? 'not started' }),
      loadAvg: { before, after: loadavg()[0]! },
    };
  } finally {
    await s?.stop();
  }
}
