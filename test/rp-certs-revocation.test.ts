import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { readCrl } from '@restpipe/certs';
import { BIN, runCli } from './helpers/cli.js';
import { hasTool } from './helpers/tools.js';

let dir: string;
const certs = (...args: string[]) => runCli(BIN.certs, [...args, '--dir', dir]);
const openssl = (...args: string[]) => spawnSync('openssl', args, { encoding: 'utf8' });
const crlFile = () => join(dir, 'ca.crl.pem');
const crl = () => readCrl(readFileSync(crlFile(), 'utf8'));
const revokedSerials = () => crl().entries.map((e) => e.serialHex).sort();
const serialOf = (file: string) => new X509Certificate(readFileSync(file)).serialNumber.toLowerCase();

function ok(result: ReturnType<typeof certs>): string {
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  return result.stdout;
}

beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'rp-certs-rev-')), 'certs');
  ok(certs('init'));
});

describe('rp-certs keeps DIR/index.json and revokes every certificate of a name', () => {
  it('revoke NAME revokes the certificate replaced with --force too', () => {
    ok(certs('client', 'a'));
    const stolen = join(dir, 'stolen-a.crt.pem');
    copyFileSync(join(dir, 'a.crt.pem'), stolen);
    ok(certs('client', 'a', '--force'));
    ok(certs('client', 'b'));
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { certificates: Array<Record<string, string>> };
    const ofA = index.certificates.filter((c) => c['name'] === 'a');
    expect(ofA.map((c) => c['serial'])).toEqual([serialOf(stolen), serialOf(join(dir, 'a.crt.pem'))]);
    for (const entry of index.certificates) {
      expect(entry['serial']).toMatch(/^[0-9a-f]+$/);
      expect(Date.parse(entry['notAfter']!)).toBeGreaterThan(Date.now());
    }

    const out = ok(certs('revoke', 'a'));
    expect(out).toContain(`revoked a ${serialOf(stolen)}`);
    // Before: only the newest serial went on the CRL; the stolen one stayed valid.
    expect(revokedSerials()).toEqual([serialOf(stolen), serialOf(join(dir, 'a.crt.pem'))].sort());
    expect(revokedSerials()).not.toContain(serialOf(join(dir, 'b.crt.pem')));
    // Written atomically: no temporary file is left beside them.
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('revoke --serial takes hex in any case, with leading zeros', () => {
    ok(certs('client', 'c'));
    const serial = serialOf(join(dir, 'c.crt.pem'));
    expect(ok(certs('revoke', '--serial', `000${serial.toUpperCase()}`))).toContain(`revoked serial ${serial}`);
    expect(revokedSerials()).toEqual([serial]);
    // Again, and with 0x: still one entry.
    ok(certs('revoke', '--serial', `0x${serial}`));
    expect(revokedSerials()).toEqual([serial]);
  });

  it.each([
    [['revoke', '--serial', 'xyz'], /--serial must be hexadecimal/],
    [['revoke'], /revoke needs a NAME or --serial/],
    [['revoke', 'a', '--serial', '01'], /one of them/],
    [['revoke', 'nobody'], /no certificate for nobody/],
  ])('exits 2 with one line for %j', (args, pattern) => {
    const result = certs(...args);
    expect(result.status).toBe(2);
    expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(result.stderr).toMatch(pattern);
  });

  it('falls back to NAME.crt.pem, and says so, in a dir without index.json', () => {
    ok(certs('client', 'old'));
    rmSync(join(dir, 'index.json'));
    const result = certs('revoke', 'old');
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/index\.json not found .*revoked only the certificate in .*old\.crt\.pem/);
    expect(revokedSerials()).toEqual([serialOf(join(dir, 'old.crt.pem'))]);
  });

  it('crl re-signs the CRL: same entries, later nextUpdate, higher CRL number', () => {
    ok(certs('client', 'd'));
    ok(certs('revoke', 'd'));
    const before = crl();
    const out = ok(certs('crl', '--days', '60'));
    expect(out).toMatch(/re-signed .*ca\.crl\.pem: 1 revoked, next update/);
    const after = crl();
    expect(after.entries).toEqual(before.entries);
    expect(after.nextUpdate!.getTime()).toBeGreaterThan(before.nextUpdate!.getTime() + 29 * 86_400_000);
    expect(after.crlNumber!).toBeGreaterThan(before.crlNumber!);
    // Twice in the same second: the number still grows.
    ok(certs('crl'));
    expect(crl().crlNumber!).toBeGreaterThan(after.crlNumber!);
  });

  it('crl exits 2 without a CRL to re-sign', () => {
    rmSync(crlFile());
    const result = certs('crl');
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/ca\.crl\.pem does not exist/);
  });

  it('--help lists crl and --serial', () => {
    const help = runCli(BIN.certs, ['--help']).stdout;
    expect(help).toMatch(/rp-certs crl\s+\[--dir certs\] \[--days 30\]/);
    expect(help).toContain('revoke --serial HEX');
    expect(help).toContain('index.json');
  });
});

describe.runIf(hasTool('openssl'))('rp-certs revocation checked by openssl', () => {
  const verify = (cert: string) => openssl('verify', '-crl_check', '-CAfile', join(dir, 'ca.crt.pem'), '-CRLfile', crlFile(), cert);

  it('refuses both certificates of a re-issued name and a --serial one; the re-signed CRL verifies', () => {
    ok(certs('client', 'a'));
    const stolen = join(dir, 'stolen-a.crt.pem');
    copyFileSync(join(dir, 'a.crt.pem'), stolen);
    ok(certs('client', 'a', '--force'));
    ok(certs('client', 'e'));
    ok(certs('client', 'keep'));
    ok(certs('revoke', 'a'));
    ok(certs('revoke', '--serial', `00${serialOf(join(dir, 'e.crt.pem')).toUpperCase()}`));
    for (const cert of [stolen, join(dir, 'a.crt.pem'), join(dir, 'e.crt.pem')]) {
      expect(verify(cert).stdout + verify(cert).stderr).toMatch(/certificate revoked/);
    }
    expect(verify(join(dir, 'keep.crt.pem')).status).toBe(0);

    const text = (): string => openssl('crl', '-in', crlFile(), '-noout', '-text').stdout;
    const nextOf = (t: string): number => Date.parse(/Next Update: (.+)/.exec(t)![1]!);
    const before = text();
    ok(certs('crl', '--days', '90'));
    const after = text();
    expect(nextOf(after)).toBeGreaterThan(nextOf(before));
    const serialsOf = (t: string): string[] => [...t.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => m[1]!).sort();
    expect(serialsOf(after)).toEqual(serialsOf(before));
    expect(serialsOf(after)).toHaveLength(3);
    expect(openssl('crl', '-in', crlFile(), '-noout', '-verify', '-CAfile', join(dir, 'ca.crt.pem')).stderr).toMatch(/verify OK/);
    expect(verify(join(dir, 'keep.crt.pem')).status).toBe(0);
  });
});
