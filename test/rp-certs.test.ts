import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli } from './helpers/cli.js';
import { hasTool } from './helpers/tools.js';

let dir: string;
const certs = (...args: string[]) => runCli(BIN.certs, [...args, '--dir', dir]);
const openssl = (...args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });

beforeAll(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'rp-certs-')), 'certs');
  expect(certs('init').status).toBe(0);
  expect(certs('server', 'server').status).toBe(0);
  expect(certs('client', 'node-a').status).toBe(0);
});

describe('rp-certs', () => {
  it('writes private keys with mode 0600 and certificates readable', () => {
    for (const name of ['ca', 'server', 'node-a']) {
      expect(statSync(join(dir, `${name}.key.pem`)).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(dir, `${name}.crt.pem`), 'utf8')).toContain('BEGIN CERTIFICATE');
    }
    expect(readFileSync(join(dir, 'ca.crl.pem'), 'utf8')).toContain('BEGIN X509 CRL');
  });

  it('never overwrites an existing file without --force', () => {
    const before = readFileSync(join(dir, 'node-a.crt.pem'), 'utf8');
    const refused = certs('client', 'node-a');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/exists; use --force/);
    expect(readFileSync(join(dir, 'node-a.crt.pem'), 'utf8')).toBe(before);
    expect(certs('client', 'node-a', '--force').status).toBe(0);
    expect(readFileSync(join(dir, 'node-a.crt.pem'), 'utf8')).not.toBe(before);
    expect(statSync(join(dir, 'node-a.key.pem')).mode & 0o777).toBe(0o600);
  });

  it.each(['bad/name', '-x', '.hidden', 'a'.repeat(64), 'ca', 'sp ace'])('exits 2 on the bad NAME %j', (name) => {
    const result = runCli(BIN.certs, ['client', name, '--dir', dir]);
    expect(result.status).toBe(2);
    expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('exits 2 on an unknown command or flag', () => {
    expect(certs('frobnicate').status).toBe(2);
    expect(certs('client', 'x', '--nope').status).toBe(2);
  });

  it('shows subject, SANs, EKU, validity and fingerprint', () => {
    const shown = runCli(BIN.certs, ['show', join(dir, 'server.crt.pem')]);
    expect(shown.status).toBe(0);
    expect(shown.stdout).toMatch(/subject:\s+CN=server/);
    expect(shown.stdout).toMatch(/SANs:\s+DNS:server, DNS:localhost, IP Address:127\.0\.0\.1/);
    expect(shown.stdout).toMatch(/EKU:\s+serverAuth/);
    expect(shown.stdout).toMatch(/not after:/);
    expect(shown.stdout).toMatch(/SHA-256:\s+([0-9A-F]{2}:){31}[0-9A-F]{2}/);
  });

  it('gives a client CN and SAN DNS:NAME, and --san replaces the server defaults', () => {
    expect(certs('server', 'edge', '--san', 'DNS:pipe.example,IP:10.1.2.3').status).toBe(0);
    const edge = runCli(BIN.certs, ['show', join(dir, 'edge.crt.pem')]).stdout;
    expect(edge).toMatch(/SANs:\s+DNS:pipe\.example, IP Address:10\.1\.2\.3\n/);
    const client = runCli(BIN.certs, ['show', join(dir, 'node-a.crt.pem')]).stdout;
    expect(client).toMatch(/subject:\s+CN=node-a/);
    expect(client).toMatch(/SANs:\s+DNS:node-a\n/);
    expect(client).toMatch(/EKU:\s+clientAuth/);
  });
});

describe.runIf(hasTool('openssl'))('rp-certs output checked by openssl', () => {
  const verify = (...args: string[]) => openssl('verify', '-CAfile', join(dir, 'ca.crt.pem'), ...args);

  it('client certificates pass -purpose sslclient and fail sslserver', () => {
    expect(verify('-purpose', 'sslclient', join(dir, 'node-a.crt.pem')).status).toBe(0);
    expect(verify('-purpose', 'sslserver', join(dir, 'node-a.crt.pem')).status).not.toBe(0);
  });

  it('server certificates pass -purpose sslserver and fail sslclient', () => {
    expect(verify('-purpose', 'sslserver', join(dir, 'server.crt.pem')).status).toBe(0);
    expect(verify('-purpose', 'sslclient', join(dir, 'server.crt.pem')).status).not.toBe(0);
  });

  it('revoke puts the certificate on a CRL that openssl enforces', () => {
    expect(certs('client', 'doomed').status).toBe(0);
    expect(verify('-crl_check', '-CRLfile', join(dir, 'ca.crl.pem'), join(dir, 'doomed.crt.pem')).status).toBe(0);
    const revoked = certs('revoke', 'doomed');
    expect(revoked.status).toBe(0);
    const check = verify('-crl_check', '-CRLfile', join(dir, 'ca.crl.pem'), join(dir, 'doomed.crt.pem'));
    expect(check.status).not.toBe(0);
    expect(check.stdout + check.stderr).toMatch(/certificate revoked/);
    expect(verify('-crl_check', '-CRLfile', join(dir, 'ca.crl.pem'), join(dir, 'node-a.crt.pem')).status).toBe(0);
    expect(openssl('crl', '-in', join(dir, 'ca.crl.pem'), '-noout', '-verify', '-CAfile', join(dir, 'ca.crt.pem')).stderr).toMatch(/verify OK/);
  });
});
