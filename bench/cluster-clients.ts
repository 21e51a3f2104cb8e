/**
 * A helper child of the cluster bench (bench/cluster.ts): COUNT real PipeClients, named
 * c<FROM>..c<FROM+COUNT-1> by their certificates, all connected to the one rp-server at
 * HOST:PORT and answering its events with the built-in client handler (`GET .../time`).
 *
 *   node --import tsx bench/cluster-clients.ts CERTDIR FROM COUNT HOST:PORT
 *
 * Prints `{"ready":COUNT}` once every client is connected; exits on `exit` on stdin or when
 * stdin closes (the bench is gone).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PipeClient } from '@restpipe/core';

const CONNECT_TIMEOUT_MS = 60_000;

const [certDir = '.', fromText = '0', countText = '0', address = ''] = process.argv.slice(2);
const from = Number(fromText);
const count = Number(countText);
const [host = '127.0.0.1', portText = ''] = address.split(':');
const port = Number(portText);
if (!Number.isInteger(from) || !Number.isInteger(count) || count < 1 || !Number.isInteger(port)) {
  throw new Error(`usage: cluster-clients.ts CERTDIR FROM COUNT HOST:PORT (got ${process.argv.slice(2).join(' ')})`);
}

const read = (name: string): string => readFileSync(join(certDir, name), 'utf8');
const key = read('client.key.pem');
const ca = read('ca.crt.pem');

const clients = Array.from({ length: count }, (_, i) =>
  new PipeClient({ tls: { cert: read(`c${from + i}.crt.pem`), key, ca }, host, port, serverName: 'localhost' }).start());

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  if (line === 'exit') process.exit(0);
});
input.on('close', () => process.exit(0));

await Promise.all(clients.map((c) => c.connected(CONNECT_TIMEOUT_MS)));
process.stdout.write(`${JSON.stringify({ ready: count })}\n`);
