/**
 * `npm start`: dev certificates, an rp-server and an rp-client on loopback,
 * and curl lines to try. Ctrl-C stops both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initCa, issue } from '@restpipe/certs';
import { DEFAULT_LISTEN_PORT } from '@restpipe/core';
import { flagDefault } from './flags.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CERTS = join(ROOT, 'certs');
const LOGS = join(ROOT, '.rp-demo');
/** Each node on its default gateway; the pipe on loopback only. */
const SERVER_GATEWAY = `http://${flagDefault('gateway', 'server')}`;
const CLIENT_GATEWAY = `http://${flagDefault('gateway', 'client')}`;
const PIPE = `127.0.0.1:${DEFAULT_LISTEN_PORT}`;
const READY_TIMEOUT_MS = 20_000;

function ensureCertificates(): void {
  if (!existsSync(join(CERTS, 'ca.crt.pem'))) initCa({ dir: CERTS });
  for (const [kind, name] of [['server', 'server'], ['client', 'client']] as const) {
    if (!existsSync(join(CERTS, `${name}.crt.pem`))) issue(kind, { dir: CERTS, name });
  }
}

function startNode(role: 'server' | 'client', args: string[]): ChildProcess {
  const log = openSync(join(LOGS, `${role}.log`), 'w');
  return spawn(process.execPath, [join(ROOT, `packages/cli/bin/rp-${role}.js`), ...args], {
    cwd: ROOT,
    stdio: ['ignore', log, log],
  });
}

async function waitReady(url: string, children: ChildProcess[]): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (children.some((c) => c.exitCode !== null)) throw new Error(`a node exited early; see ${LOGS}/*.log`);
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not ready after ${READY_TIMEOUT_MS} ms; see ${LOGS}/*.log`);
}

/** Picks the newest pending hold's id out of `GET /_rp/holds` (node is there wherever `npm start` runs; jq may not be). */
const NEWEST_HOLD = `H=$(curl -s '${SERVER_GATEWAY}/_rp/holds?status=pending&limit=1' | node -pe 'JSON.parse(fs.readFileSync(0))[0].hold')`;

const TOUR = `
restpipe demo is up: rp-server (pipe ${PIPE}, gateway ${SERVER_GATEWAY})
                     rp-client "client" (gateway ${CLIENT_GATEWAY})
Dashboards, in a browser: ${SERVER_GATEWAY}/_rp/ui (server) and ${CLIENT_GATEWAY}/_rp/ui (client)
Logs (JSON lines): ${LOGS}/server.log and ${LOGS}/client.log

Try, from another terminal:
  curl ${CLIENT_GATEWAY}/server/time                       # client -> server
  curl ${SERVER_GATEWAY}/client/client/time                # server -> client
  curl ${CLIENT_GATEWAY}/server/cat//hello%20/world        # args after //
  curl -X POST -H 'content-type: application/json' -d '[1,2,3]' ${CLIENT_GATEWAY}/server/sum
  curl ${SERVER_GATEWAY}/client/client/nothing             # 404 UnknownHandlerError envelope
  curl ${SERVER_GATEWAY}/_rp/clients                       # who is connected
An async job, and a call held until someone approves it:
  curl -i -H 'Prefer: respond-async' ${CLIENT_GATEWAY}/server/time   # 202, Location /_rp/jobs/ID
  curl ${CLIENT_GATEWAY}/_rp/jobs                          # the jobs, newest first; /_rp/jobs/ID/result: a reply
  curl -i -X POST ${CLIENT_GATEWAY}/server/deploy//v2      # 202 and a job on_hold, for the server to approve
  curl ${SERVER_GATEWAY}/_rp/holds                         # the holds, newest first
  ${NEWEST_HOLD}
  curl -X POST ${SERVER_GATEWAY}/_rp/holds/$H/approve      # approves the newest pending hold (or /deny)
Ctrl-C stops both.
`;

async function main(): Promise<void> {
  ensureCertificates();
  mkdirSync(LOGS, { recursive: true });
  const server = startNode('server', ['--listen', PIPE, '--handler', './examples/server-handler.ts', '--data-dir', join(LOGS, 'data-server')]);
  const client = startNode('client', ['--server', PIPE, '--server-name', 'localhost', '--data-dir', join(LOGS, 'data-client')]);
  const children = [server, client];
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('\nstopping...\n');
    for (const child of children) child.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const exited = Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', r)))));
  try {
    await waitReady(`${CLIENT_GATEWAY}/_rp/ready`, children);
    process.stdout.write(TOUR);
  } catch (error) {
    process.stderr.write(`demo: ${(error as Error).message}\n`);
    stop();
    process.exitCode = 1;
  }
  await exited;
  process.stdout.write('stopped.\n');
}

await main();
