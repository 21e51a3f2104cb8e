import { CertDir, freePort, startNode, type NodeProcess } from './nodes.js';
import { startNatsCluster, type NatsCluster } from './nats-cluster.js';
import { waitFor } from './wait.js';

export interface RpClusterOptions {
  /** rp-server nodes. @default 3 */
  size?: number;
  /** Client names with certificates (started with startClient). */
  clients?: string[];
  serverArgs?: string[];
  tls?: boolean;
}

/** N rp-servers (n0, n1...) on one 3-server NATS cluster, each told every NATS URL, its own first. */
export class RpCluster {
  readonly servers: Array<NodeProcess | undefined> = [];
  readonly pipePorts: number[] = [];
  readonly clients = new Map<string, NodeProcess>();

  constructor(readonly certs: CertDir, readonly nats: NatsCluster, readonly options: RpClusterOptions) {}

  /** `--cluster` for node i: every NATS URL, node i's own first. */
  clusterFlag(i: number): string {
    const urls = this.nats.urls;
    return [...urls.slice(i % urls.length), ...urls.slice(0, i % urls.length)].join(',');
  }

  async startServer(i: number, extra: string[] = []): Promise<NodeProcess> {
    this.pipePorts[i] ??= await freePort();
    const tls = this.nats.tls;
    const server = await startNode('server', this.certs, 'server', [
      '--listen', `127.0.0.1:${this.pipePorts[i]}`,
      '--node-id', `n${i}`,
      '--cluster', this.clusterFlag(i),
      ...(tls ? ['--cluster-ca', tls.ca, '--cluster-cert', tls.cert, '--cluster-key', tls.key] : []),
      ...(this.options.serverArgs ?? []),
      ...extra,
    ]);
    this.servers[i] = server;
    return server;
  }

  server(i: number): NodeProcess {
    const server = this.servers[i];
    if (!server) throw new Error(`rp-server n${i} is not running`);
    return server;
  }

  /** rp-client NAME with `--server` listing every node, node `first` first. */
  async startClient(name: string, first: number, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<NodeProcess> {
    const ports = this.pipePorts;
    const order = [...ports.slice(first), ...ports.slice(0, first)].map((port) => `127.0.0.1:${port}`);
    const client = await startNode('client', this.certs, name, ['--server', order.join(','), '--server-name', 'localhost', ...extra], env);
    this.clients.set(name, client);
    return client;
  }

  /** Until every running node sees every other one in /_rp/cluster. */
  async waitForNodes(count = this.servers.filter(Boolean).length, timeoutMs = 20_000): Promise<void> {
    for (const server of this.servers) {
      if (!server || server.exitCode !== null || server.signalCode !== null) continue;
      await waitFor(async () => {
        const view = (await (await fetch(`${server.gateway}/_rp/cluster`)).json()) as { nats: string; nodes: unknown[] };
        return view.nats === 'connected' && view.nodes.length === count;
      }, `node ${server.gateway} to see ${count} nodes`, timeoutMs, 50);
    }
  }

  /** Until `name` is listed by /_rp/clients of node i (with the node it is on). */
  async waitForClient(name: string, via = 0, timeoutMs = 20_000): Promise<string> {
    return waitFor(async () => {
      const list = (await (await fetch(`${this.server(via).gateway}/_rp/clients`)).json()) as Array<{ name: string; node: string }>;
      return list.find((c) => c.name === name)?.node;
    }, `${name} to be listed`, timeoutMs, 50);
  }

  /** rp-client NAME with `--server` listing only `nodes`, in that order. */
  async startClientOn(name: string, nodes: readonly number[], extra: string[] = []): Promise<NodeProcess> {
    const order = nodes.map((i) => `127.0.0.1:${this.pipePorts[i]}`);
    const client = await startNode('client', this.certs, name, ['--server', order.join(','), '--server-name', 'localhost', ...extra]);
    this.clients.set(name, client);
    return client;
  }

  /** SIGKILLs rp-server i and resolves once it is gone; the dead process stays in `servers` (its output()). */
  async killServer(i: number): Promise<NodeProcess> {
    const server = this.server(i);
    if (server.exitCode === null && server.signalCode === null) {
      const gone = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGKILL');
      await gone;
    }
    return server;
  }

  /** `/_rp/clients` as node i lists it (cluster-wide). */
  async clientList(via: number): Promise<Array<{ name: string; node: string }>> {
    return (await (await fetch(`${this.server(via).gateway}/_rp/clients`)).json()) as Array<{ name: string; node: string }>;
  }

  /** Until node i is connected to NATS and sees `count` nodes in /_rp/cluster. */
  async waitForNodesOf(i: number, count: number, timeoutMs = 20_000): Promise<void> {
    const server = this.server(i);
    await waitFor(async () => {
      const view = (await (await fetch(`${server.gateway}/_rp/cluster`)).json()) as { nats: string; nodes: unknown[] };
      return view.nats === 'connected' && view.nodes.length === count;
    }, `node n${i} to see ${count} nodes`, timeoutMs, 50);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.stop()));
    await Promise.all(this.servers.map((s) => s?.stop()));
    await this.nats.stop();
  }
}

export async function startRpCluster(options: RpClusterOptions = {}): Promise<RpCluster> {
  const certs = new CertDir(options.clients ?? []);
  const nats = await startNatsCluster({ size: 3, tls: options.tls ?? false });
  const cluster = new RpCluster(certs, nats, options);
  for (let i = 0; i < (options.size ?? 3); i += 1) await cluster.startServer(i);
  await cluster.waitForNodes();
  return cluster;
}
