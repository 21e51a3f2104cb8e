import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCrl, readCrl } from '@restpipe/certs';
import { BIN, runCli } from './helpers/cli.js';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { waitFor } from './helpers/wait.js';

const DAY = 86_400_000;
const running: NodeProcess[] = [];

afterEach(() => {
  for (const node of running.splice(0)) if (node.exitCode === null && node.signalCode === null) node.kill('SIGKILL');
});

interface Health {
  status: string;
  crl?: { nextUpdate: string; expired: boolean };
}

function serialOf(certs: CertDir, name: string): string {
  return new X509Certificate(readFileSync(certs.path(name, 'crt'))).serialNumber;
}

/** A CRL revoking `revoked`, with the dates given: what a CA would have signed back then. */
function writeCrl(certs: CertDir, revoked: string[], dates: { thisUpdate: Date; nextUpdate: Date }): string {
  const file = join(certs.dir, 'certs', 'ca.crl.pem');
  const entries = revoked.map((name) => ({ serialHex: serialOf(certs, name), revokedAt: dates.thisUpdate }));
  writeFileSync(file, createCrl(certs.ca, entries, dates));
  return file;
}

async function server(certs: CertDir, crlFile: string): Promise<{ node: NodeProcess; pipePort: number }> {
  const pipePort = await freePort();
  const node = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, '--crl', crlFile]);
  running.push(node);
  return { node, pipePort };
}

async function client(certs: CertDir, name: string, pipePort: number): Promise<NodeProcess> {
  const node = await startNode('client', certs, name, ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost']);
  running.push(node);
  return node;
}

async function health(node: NodeProcess): Promise<Health> {
  return (await (await fetch(`${node.gateway}/_rp/health`)).json()) as Health;
}

const ready = async (node: NodeProcess): Promise<boolean> => (await fetch(`${node.gateway}/_rp/ready`)).ok;

/** Log lines of `node` with this message fragment, parsed. */
function logLines(node: NodeProcess, fragment: string): Array<Record<string, unknown>> {
  return node.output().split('\n').filter((l) => l.includes(fragment)).map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('a CRL past its nextUpdate never locks clients out', () => {
  it('still admits a good client, still refuses the revoked one, warns, and shows crl.expired in /_rp/health', async () => {
    const certs = new CertDir(['node-a', 'node-b']);
    const nextUpdate = new Date(Date.now() - 10 * DAY);
    const crlFile = writeCrl(certs, ['node-b'], { thisUpdate: new Date(Date.now() - 40 * DAY), nextUpdate });
    const { node, pipePort } = await server(certs, crlFile);

    // Before: OpenSSL refused every handshake (CRL_HAS_EXPIRED), node-a included.
    const good = await client(certs, 'node-a', pipePort);
    await waitFor(() => ready(good), 'node-a to connect through a stale CRL');
    expect((await fetch(`${good.gateway}/server/time`)).status).toBe(200);

    const doomed = await client(certs, 'node-b', pipePort);
    await waitFor(() => node.output().includes('certificate revoked (checked on accept'), 'node-b to be refused');
    expect(await ready(doomed)).toBe(false);
    expect(node.output()).not.toMatch(/"msg":"client connected"[^\n]*"peer":"node-b"/);

    expect((await health(node)).crl).toEqual({ nextUpdate: nextUpdate.toISOString().replace(/\.\d{3}Z$/, '.000Z'), expired: true });
    const [warning] = logLines(node, 'CRL is past its nextUpdate');
    expect(warning).toMatchObject({ level: 40, crlFile, expired: true });
  });

  it('warns with expired:false within 7 days of nextUpdate; rp-certs crl and SIGHUP clear it, revoked stays revoked', async () => {
    const certs = new CertDir(['node-a', 'node-b']);
    const nextUpdate = new Date(Date.now() + 3 * DAY);
    const crlFile = writeCrl(certs, ['node-b'], { thisUpdate: new Date(Date.now() - DAY), nextUpdate });
    const { node, pipePort } = await server(certs, crlFile);
    expect((await health(node)).crl).toMatchObject({ expired: false });
    expect(logLines(node, 'CRL nextUpdate is within 7 days')[0]).toMatchObject({ level: 40, expired: false });
    const good = await client(certs, 'node-a', pipePort);
    await waitFor(() => ready(good), 'node-a to connect');

    const resigned = runCli(BIN.certs, ['crl', '--dir', join(certs.dir, 'certs'), '--days', '30']);
    expect(resigned.stderr).toBe('');
    expect(resigned.status).toBe(0);
    expect(readCrl(readFileSync(crlFile, 'utf8')).entries.map((e) => e.serialHex)).toEqual([serialOf(certs, 'node-b').toLowerCase()]);
    const warningsBefore = logLines(node, 'CRL nextUpdate is within').length;
    node.kill('SIGHUP');
    await waitFor(() => node.output().includes('certificates reloaded'), 'the reload');
    const after = (await health(node)).crl!;
    expect(after.expired).toBe(false);
    expect(Date.parse(after.nextUpdate)).toBeGreaterThan(Date.now() + 29 * DAY);
    expect(logLines(node, 'CRL nextUpdate is within').length).toBe(warningsBefore);
    expect(await ready(good)).toBe(true);

    const doomed = await client(certs, 'node-b', pipePort);
    await waitFor(() => node.output().includes('pipe connection refused'), 'node-b to be refused');
    expect(await ready(doomed)).toBe(false);
  });

  it('shows a fresh CRL in /_rp/health without a warning, and no crl without --crl', async () => {
    const certs = new CertDir([]);
    const crlFile = writeCrl(certs, [], { thisUpdate: new Date(Date.now() - DAY), nextUpdate: new Date(Date.now() + 30 * DAY) });
    const { node } = await server(certs, crlFile);
    expect((await health(node)).crl).toMatchObject({ expired: false });
    expect(node.output()).not.toMatch(/CRL (is past|nextUpdate is within)/);
    const plain = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${await freePort()}`]);
    running.push(plain);
    expect((await health(plain)).crl).toBeUndefined();
  });

  it('exits 2 naming the file when --crl holds no valid CRL', () => {
    const certs = new CertDir([]);
    const bogus = join(certs.dir, 'certs', 'bogus.crl.pem');
    writeFileSync(bogus, '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n');
    const result = runCli(BIN.server, ['--cert', certs.path('server', 'crt'), '--key', certs.path('server', 'key'), '--ca', certs.path('ca', 'crt'),
      '--crl', bogus, '--statsd', 'off', '--gateway', 'off', '--listen', '127.0.0.1:0'], { cwd: certs.dir });
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toMatch(new RegExp(`--crl file ${bogus.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is not a valid CRL`));
  });
});
