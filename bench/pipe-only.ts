import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { FrameDecoder, PipeClient } from '@restpipe/core';
import { child, freePort, median, percentile } from './lib.js';

export interface PipeResult {
  target: string;
  inFlight: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

const BODY = Buffer.alloc(16, 0x63);

/** Keeps `inFlight` requests going for `seconds`; returns req/s and latencies. */
async function drive(inFlight: number, seconds: number, once: () => Promise<unknown>): Promise<{ reqPerSec: number; latencies: Float64Array }> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < end) {
      const t = performance.now();
      await once();
      latencies.push(performance.now() - t);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, loop));
  const elapsed = (performance.now() - start) / 1000;
  return { reqPerSec: latencies.length / elapsed, latencies: Float64Array.from(latencies).sort() };
}

/** A raw mutual-TLS client speaking length-prefixed frames, one reply per frame, in order. */
async function rawClient(port: number, certDir: string): Promise<{ request(): Promise<void>; close(): void }> {
  const read = (f: string) => readFileSync(join(certDir, f), 'utf8');
  const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: read('ca.crt.pem'), cert: read('client.crt.pem'), key: read('client.key.pem') });
  await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  socket.setNoDelay(true);
  const waiting: Array<() => void> = [];
  const decoder = new FrameDecoder(1 << 24);
  socket.on('data', (chunk: Buffer) => {
    for (const _ of decoder.push(chunk)) waiting.shift()?.();
  });
  const frame = Buffer.alloc(4 + BODY.length);
  frame.writeUInt32BE(BODY.length);
  BODY.copy(frame, 4);
  return {
    request: () => new Promise<void>((resolve) => {
      waiting.push(resolve);
      socket.write(frame);
    }),
    close: () => socket.destroy(),
  };
}

/** The pipe through the library API, against a raw TLS echo floor, same machine, same run. */
export async function pipeOnly(certDir: string, runs: number, seconds: number): Promise<PipeResult[]> {
  const [floorPort, pipePort] = await Promise.all([freePort(), freePort()]);
  const floor = await child('tls-floor', [String(floorPort), certDir]);
  const server = await child('pipe-server', [String(pipePort), certDir]);
  const read = (f: string) => readFileSync(join(certDir, f), 'utf8');
  const client = new PipeClient({
    tls: { cert: read('client.crt.pem'), key: read('client.key.pem'), ca: read('ca.crt.pem') },
    host: '127.0.0.1', port: pipePort, serverName: 'localhost',
  }).start();
  const raw = await rawClient(floorPort, certDir);
  try {
    if (!(await client.connected(10_000))) throw new Error('bench: pipe client did not connect');
    const targets: Record<string, () => Promise<unknown>> = {
      'raw TLS echo': () => raw.request(),
      restpipe: () => client.request({ verb: 'post', noun: 'echo', body: BODY }),
    };
    for (const once of Object.values(targets)) await drive(16, 1, once); // warm-up
    const samples = new Map<string, Array<{ reqPerSec: number; p50: number; p99: number }>>();
    for (let run = 0; run < runs; run++) {
      for (const inFlight of [1, 64, 1024]) {
        for (const [target, once] of Object.entries(targets)) {
          const r = await drive(inFlight, seconds, once);
          const key = `${target}|${inFlight}`;
          samples.set(key, [...(samples.get(key) ?? []), { reqPerSec: r.reqPerSec, p50: percentile(r.latencies, 50), p99: percentile(r.latencies, 99) }]);
          process.stderr.write(`  pipe only run ${run + 1}: ${key}: ${Math.round(r.reqPerSec)} req/s\n`);
        }
      }
    }
    return [...samples].map(([key, s]) => {
      const [target, inFlight] = key.split('|');
      return {
        target: target!, inFlight: Number(inFlight),
        reqPerSec: median(s.map((x) => x.reqPerSec)), p50Ms: median(s.map((x) => x.p50)), p99Ms: median(s.map((x) => x.p99)),
      };
    });
  } finally {
    raw.close();
    await client.close();
    await Promise.all([floor.stop(), server.stop()]);
  }
}
