import { existsSync, readFileSync } from 'node:fs';
import { call, type HttpAnswer } from './http.js';
import type { NodeProcess } from './nodes.js';
import type { RpCluster } from './rp-cluster.js';
import { waitFor } from './wait.js';

/** One JSON log line of an rp-server or rp-client (pino: `time` is ISO 8601). */
export interface NodeRecord {
  msg: string;
  time: string;
  [key: string]: unknown;
}

/** Every JSON record a CLI child logged so far, in order (other lines are skipped). */
export function recordsOf(node: NodeProcess, msg?: string): NodeRecord[] {
  const records: NodeRecord[] = [];
  for (const line of node.output().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const record = JSON.parse(line) as NodeRecord;
      if (msg === undefined || record.msg === msg) records.push(record);
    } catch {
      // A line cut by the pipe's chunking, or not ours.
    }
  }
  return records;
}

/** `/_rp/cluster` of a node. */
export interface ClusterView {
  node: string;
  nats: string;
  nodes: Array<{ node: string; clients: number; since: string }>;
}

export async function viewOf(gateway: string): Promise<ClusterView> {
  return (await (await fetch(`${gateway}/_rp/cluster`)).json()) as ClusterView;
}

/** Until node `via` has heard `node` beat with `clients` clients (a beat comes after that node's claims). */
export async function waitForCount(cluster: RpCluster, via: number, node: string, clients: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => (await viewOf(cluster.server(via).gateway)).nodes.find((n) => n.node === node)?.clients === clients,
    `n${via} to see ${node} with ${clients} client(s)`, timeoutMs, 50);
}

/** `/_rp/clients` of a node: name and node of each entry. */
export async function listedOn(gateway: string): Promise<Array<{ name: string; node: string }>> {
  return (await (await fetch(`${gateway}/_rp/clients`)).json()) as Array<{ name: string; node: string }>;
}

/**
 * POST /client/NAME/record with a tag: the client that runs it appends the tag to its own
 * RECORD_LOG, which tells which process answered. A short deadline, and the fetch itself is
 * bounded, so that a request swallowed by a stale holder fails the test instead of hanging it.
 */
export function record(gateway: string, name: string, tag: string, deadlineMs = 3_000): Promise<HttpAnswer> {
  return call(`${gateway}/client/${name}/record`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-event-timeout-ms': String(deadlineMs) },
    body: JSON.stringify({ tag }),
    signal: AbortSignal.timeout(deadlineMs + 10_000),
  });
}

/** Tags a RECORD_LOG holds. */
export function tagsIn(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** The `code` of an envelope answer. */
export function codeOf(answer: HttpAnswer): string | undefined {
  try {
    return (answer.json() as { exception?: { code?: string } }).exception?.code;
  } catch {
    return undefined;
  }
}

/** SIGCONT if the process was stopped: a stopped child ignores SIGTERM until then, and stop() would hang. */
export function resume(node: NodeProcess | undefined): void {
  if (node?.pid !== undefined && node.exitCode === null && node.signalCode === null) node.kill('SIGCONT');
}

/** Which nats-server (by index) each rp-server node is connected to, from their /connz. */
export async function natsHosts(cluster: RpCluster): Promise<Map<string, number>> {
  const hosts = new Map<string, number>();
  for (const [i, server] of cluster.nats.servers.entries()) {
    if (!server.running()) continue;
    const connz = (await (await fetch(`${server.monitorUrl}/connz`)).json()) as { connections?: Array<{ name?: string }> };
    for (const c of connz.connections ?? []) {
      const node = /^rp-server (\S+)$/.exec(c.name ?? '')?.[1];
      if (node) hosts.set(node, i);
    }
  }
  return hosts;
}
