import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './nodes.js';
import { NATS_MAX_PAYLOAD, natsConfig, writeNatsTls, type NatsPorts, type NatsTlsFiles } from './nats-config.js';
import { forgetDir, forgetProcess, reapDir, reapProcess } from './reaper.js';
import { hasTool, toolPath } from './tools.js';
import { waitFor } from './wait.js';

export { NATS_MAX_PAYLOAD, NATS_MAX_PAYLOAD_BYTES, type NatsTlsFiles } from './nats-config.js';

const READY_TIMEOUT_MS = 20_000;
const PROBE_TIMEOUT_MS = 1_000;
const LOG_TAIL_LINES = 40;
const START_ATTEMPTS = 3;
/** Signals after which nats-server is gone: kill() waits for its exit. Others (SIGSTOP, SIGHUP...) return at once. */
const ENDING_SIGNALS: ReadonlySet<NodeJS.Signals> = new Set(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT']);

let available: boolean | undefined;

/**
 * Whether nats-server is installed. Missing, it skips (with a message) locally and throws under
 * CI=true, as for nginx: `describe.runIf(natsServerAvailable())(...)`.
 */
export function natsServerAvailable(): boolean {
  available ??= hasTool('nats-server');
  return available;
}

export interface NatsClusterOptions {
  /** @default 3 */
  size?: number;
  /** TLS with client certificates (verify: true) on the client port; routes stay plain. @default false */
  tls?: boolean;
  /** The common name of the client certificate in `tls`. @default 'rp-node' */
  clientName?: string;
  /** @default NATS_MAX_PAYLOAD ('8MB') */
  maxPayload?: string;
  /** Extra top-level lines for every server's config file, e.g. `ping_interval: "1s"`. */
  extraConfig?: readonly string[];
}

/** What /routez says about one server. */
export interface RouteState {
  serverId: string;
  numRoutes: number;
  remoteIds: string[];
}

/** One nats-server of the cluster: fixed ports and config, a process that kill/restart replace. */
export class NatsServerProc {
  readonly name: string;
  readonly url: string;
  readonly monitorUrl: string;
  readonly configFile: string;
  readonly logFile: string;
  #child: ChildProcess | undefined;
  #wanted = false;
  #spawnError: Error | undefined;

  constructor(readonly index: number, readonly ports: NatsPorts, dir: string, tls: boolean) {
    this.name = `rp-${index}`;
    this.url = `${tls ? 'tls' : 'nats'}://127.0.0.1:${ports.client}`;
    this.monitorUrl = `http://127.0.0.1:${ports.monitor}`;
    this.configFile = join(dir, `${this.name}.conf`);
    this.logFile = join(dir, `${this.name}.log`);
  }

  get port(): number {
    return this.ports.client;
  }

  /** The current process, if one was started. */
  get process(): ChildProcess | undefined {
    return this.#child;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Everything this server logged, across restarts. */
  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  logTail(lines = LOG_TAIL_LINES): string {
    return this.log().trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Starts the process (its log file is appended to) and resolves once it takes clients. */
  async start(binary: string): Promise<void> {
    if (this.running()) throw new Error(`${this.name} is already running`);
    const logFrom = this.log().length;
    const fd = openSync(this.logFile, 'a');
    try {
      this.#child = spawn(binary, ['-c', this.configFile], { stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    this.#wanted = true;
    this.#spawnError = undefined;
    const child = this.#child;
    child.once('error', (error) => (this.#spawnError = error));
    if (child.pid !== undefined) {
      const { pid } = child;
      reapProcess(pid);
      child.once('exit', () => forgetProcess(pid));
    }
    // nats-server logs "Server is ready" once its client port listens; its monitor answers before that.
    const ready = async (): Promise<boolean> => {
      this.assertRunning('start');
      return this.log().slice(logFrom).includes('] Server is ready') && (await probeJson(`${this.monitorUrl}/healthz`)) !== undefined;
    };
    await waitFor(ready, `${this.name} to be ready`, READY_TIMEOUT_MS).catch((error: Error) => {
      throw this.running() ? this.failure(error.message) : error;
    });
  }

  /** Sends `signal`; for one that ends nats-server, resolves once the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (!child || !this.running()) return;
    const exited = once(child, 'exit');
    if (ENDING_SIGNALS.has(signal)) this.#wanted = false;
    child.kill(signal);
    if (ENDING_SIGNALS.has(signal)) await exited;
  }

  /** Started and not killed since: it should be running. */
  get wanted(): boolean {
    return this.#wanted;
  }

  /** /routez of this server, or undefined if it does not answer. */
  async routes(): Promise<RouteState | undefined> {
    const body = (await probeJson(`${this.monitorUrl}/routez`)) as
      | { server_id: string; num_routes: number; routes?: { remote_id: string }[] }
      | undefined;
    if (!body) return undefined;
    return { serverId: body.server_id, numRoutes: body.num_routes, remoteIds: (body.routes ?? []).map((r) => r.remote_id) };
  }

  /** Throws, with the log's tail, if the process ended without being killed. */
  assertRunning(during: string): void {
    if (this.#spawnError) throw new Error(`${this.name} did not start: ${this.#spawnError.message}`, { cause: this.#spawnError });
    if (this.#child && this.#wanted && !this.running()) {
      const how = this.#child.signalCode ?? `code ${this.#child.exitCode}`;
      throw this.failure(`${this.name} exited (${how}) during ${during}`);
    }
  }

  failure(message: string): Error {
    return new Error(`${message}\n--- ${this.logFile} (last lines) ---\n${this.logTail()}`);
  }
}

/** A running cluster; `stop()` when done (the reaper covers a test process that dies first). */
export class NatsCluster {
  readonly urls: string[];
  #stopped = false;

  constructor(readonly dir: string, readonly servers: NatsServerProc[], readonly tls: NatsTlsFiles | undefined, readonly binary: string) {
    this.urls = servers.map((s) => s.url);
  }

  /** Sends `signal` to server `i`; SIGKILL, SIGTERM, SIGINT and SIGQUIT wait for it to exit. */
  kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.server(i).kill(signal);
  }

  /** Server `i` again, on the same ports and config (killed first if running); resolves once routed to every running server. */
  async restart(i: number): Promise<void> {
    const server = this.server(i);
    await server.kill('SIGKILL');
    await server.start(this.binary);
    await this.waitForRoutes();
  }

  /** Resolves once every running server has exactly one route to each other one (duplicates are transient). */
  async waitForRoutes(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    try {
      await waitFor(() => this.#fullyRouted(), 'every running nats-server to be routed to each other', timeoutMs, 50);
    } catch (error) {
      const tails = this.servers.map((s) => s.failure(`${s.name}: ${s.running() ? 'running' : 'not running'}`).message);
      throw new Error(`${(error as Error).message}\n${tails.join('\n')}`, { cause: error });
    }
  }

  async #fullyRouted(): Promise<boolean> {
    for (const s of this.servers) s.assertRunning('the wait for routes');
    const live = this.servers.filter((s) => s.wanted);
    const states = await Promise.all(live.map((s) => s.routes()));
    if (states.some((state) => state === undefined)) return false;
    const ids = (states as RouteState[]).map((state) => state.serverId);
    return (states as RouteState[]).every((state) => {
      const expected = ids.filter((id) => id !== state.serverId).sort();
      const remote = [...new Set(state.remoteIds)].sort();
      return state.numRoutes === expected.length && remote.join() === expected.join();
    });
  }

  server(i: number): NatsServerProc {
    const server = this.servers[i];
    if (!server) throw new RangeError(`no nats-server ${i} in a cluster of ${this.servers.length}`);
    return server;
  }

  /** Kills every server and removes the temp dir. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all(this.servers.map((s) => s.kill('SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
    forgetDir(this.dir);
  }
}

/**
 * Starts a flat routed cluster of `size` nats-server processes on 127.0.0.1 and resolves once
 * every server takes clients and is routed to all the others. Ports are picked at run time; if one
 * was taken meanwhile, it starts over on new ports.
 */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const binary = toolPath('nats-server');
  if (!binary) throw new Error('nats-server is not installed (apt-get install nats-server)');
  for (let attempt = 1; ; attempt++) {
    const cluster = await layOut(options, binary);
    try {
      await Promise.all(cluster.servers.map((s) => s.start(binary)));
      await cluster.waitForRoutes();
      return cluster;
    } catch (error) {
      await cluster.stop();
      const portTaken = /address already in use/.test((error as Error).message);
      if (!portTaken || attempt >= START_ATTEMPTS) throw error;
    }
  }
}

/** The temp dir, ports, TLS files and config files of a cluster not started yet. */
async function layOut(options: NatsClusterOptions, binary: string): Promise<NatsCluster> {
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
  const dir = mkdtempSync(join(tmpdir(), 'rp-nats-'));
  reapDir(dir);
  const tls = options.tls ? writeNatsTls(join(dir, 'tls'), options.clientName ?? 'rp-node') : undefined;
  const ports = await distinctFreePorts(size * 3);
  const servers = Array.from({ length: size }, (_, i) => {
    const at = (k: number): number => ports[i * 3 + k] as number;
    return new NatsServerProc(i, { client: at(0), route: at(1), monitor: at(2) }, dir, tls !== undefined);
  });
  for (const server of servers) {
    const peers = servers.filter((other) => other !== server).map((other) => other.ports.route);
    const text = natsConfig({
      name: server.name,
      ports: server.ports,
      peers,
      maxPayload: options.maxPayload ?? NATS_MAX_PAYLOAD,
      tls,
      extra: options.extraConfig ?? [],
    });
    writeFileSync(server.configFile, text);
  }
  return new NatsCluster(dir, servers, tls, binary);
}

/** `count` free ports, no two alike (each probe closes before the next, so the OS may repeat one). */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

async function probeJson(url: string): Promise<unknown> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    return res.ok ? await res.json() : undefined;
  } catch {
    return undefined;
  }
}
