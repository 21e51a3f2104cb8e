import { randomBytes } from 'node:crypto';
import { child, freePort, median, sleep, until, type Child } from './lib.js';

export interface ScaleResult {
  clients: number;
  restpipeKbPerConnection: number;
  tlsFloorKbPerConnection: number;
  /** The floor again, each connection having echoed one small frame first. */
  tlsFloorAfterDataKbPerConnection: number;
  reconnectFullMs: number;
  reconnectResumedMs: number;
  resumedCount: number;
  activeClients: number;
  activeReqPerSec: number;
}

/**
 * How long the server idles before its RSS is read. V8 grows its young generation
 * while 1,000 handshakes run and gives it back only after some idle seconds;
 * read sooner, RSS per connection mostly measures that growth, not the connections.
 */
export const SETTLE_MS = Number(process.env['BENCH_SETTLE_MS'] ?? 20_000);

/** RSS added per idle connection on the server side, once the server has idled SETTLE_MS. */
async function perConnection(serverRole: string, clientRole: string, clients: number, certDir: string, extra: string[] = []): Promise<number> {
  const port = await freePort();
  const server = await child(serverRole, [String(port), certDir]);
  let idle: Child | undefined;
  try {
    await sleep(300);
    const before = await server.rss();
    idle = await child(clientRole, [String(port), certDir, String(clients), ...extra]);
    await until(() => idle!.latest['connected'] === clients, 120_000, `${clients} ${clientRole} connected`);
    await sleep(SETTLE_MS);
    const after = await server.rss();
    return (after - before) / clients / 1024;
  } finally {
    await idle?.stop();
    await server.stop();
  }
}

/** Time from a restarted server listening to every client back on it. */
async function reconnect(clients: number, certDir: string, sameTicketKeys: boolean): Promise<{ ms: number; resumed: number }> {
  const port = await freePort();
  const keys = randomBytes(48).toString('hex');
  const env = (fresh: boolean) => ({ BENCH_TICKET_KEYS: fresh ? randomBytes(48).toString('hex') : keys });
  let server = await child('pipe-server', [String(port), certDir], env(false));
  const idle = await child('idle-clients', [String(port), certDir, String(clients)]);
  try {
    await until(() => idle.latest['connected'] === clients, 120_000, 'all clients connected');
    await sleep(500); // let session tickets arrive
    await server.stop();
    await until(() => idle.latest['connected'] === 0, 30_000, 'all clients to notice');
    const resumedBefore = Number(idle.latest['resumed'] ?? 0);
    server = await child('pipe-server', [String(port), certDir], env(!sameTicketKeys));
    const ms = await until(() => idle.latest['connected'] === clients, 120_000, 'all clients reconnected');
    await sleep(100);
    return { ms, resumed: Number(idle.latest['resumed'] ?? 0) - resumedBefore };
  } finally {
    await idle.stop();
    await server.stop();
  }
}

async function active(clients: number, certDir: string, seconds: number): Promise<number> {
  const port = await freePort();
  const server = await child('pipe-server', [String(port), certDir]);
  try {
    const load = await child('active-clients', [String(port), certDir, String(clients), String(seconds)]);
    await until(() => typeof load.latest['throughput'] === 'number', (seconds + 30) * 1000, 'the active run');
    await load.stop();
    return load.latest['throughput'] as number;
  } finally {
    await server.stop();
  }
}

export async function scale(certDir: string, clients: number, runs: number, seconds: number): Promise<ScaleResult> {
  const ours: number[] = [];
  const floor: number[] = [];
  const floorAfterData: number[] = [];
  for (let run = 0; run < runs; run++) {
    floor.push(await perConnection('tls-floor', 'raw-idle', clients, certDir));
    ours.push(await perConnection('pipe-server', 'idle-clients', clients, certDir));
    floorAfterData.push(await perConnection('tls-floor', 'raw-idle', clients, certDir, ['echo']));
    process.stderr.write(`  scale run ${run + 1}: idle KB/conn floor ${floor.at(-1)!.toFixed(1)}, restpipe ${ours.at(-1)!.toFixed(1)}, floor after one echo ${floorAfterData.at(-1)!.toFixed(1)}\n`);
  }
  const full = await reconnect(clients, certDir, false);
  const resumed = await reconnect(clients, certDir, true);
  process.stderr.write(`  scale: reconnect ${clients}: full ${full.ms.toFixed(0)} ms, resumed ${resumed.ms.toFixed(0)} ms (${resumed.resumed} resumed)\n`);
  const activeClients = Math.min(100, clients);
  const activeReqPerSec = await active(activeClients, certDir, seconds);
  return {
    clients,
    restpipeKbPerConnection: median(ours),
    tlsFloorKbPerConnection: median(floor),
    tlsFloorAfterDataKbPerConnection: median(floorAfterData),
    reconnectFullMs: full.ms,
    reconnectResumedMs: resumed.ms,
    resumedCount: resumed.resumed,
    activeClients,
    activeReqPerSec,
  };
}
