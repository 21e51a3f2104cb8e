/**
 * `--signing-keys-file` (SPEC §10): a file the CLIs refuse exits 2 with one line naming it,
 * and never prints a secret; SIGHUP reads it again, so keys rotate without a restart.
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from 'restpipe';
import { BIN, runCli } from './helpers/cli.js';
import { call } from './helpers/http.js';
import { CertDir, freePort, startNode } from './helpers/nodes.js';
import { waitFor } from './helpers/wait.js';

const KEYS = { 'ops-2026': 'first-secret-of-the-rotation-0123456789', 'ops-2027': 'second-secret-of-the-rotation-987654321' };

let certs: CertDir;

beforeAll(() => {
  certs = new CertDir(['node-a']);
});

function secretFile(name: string, text: string, mode = 0o600): string {
  const file = join(certs.dir, name);
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

describe('--signing-keys-file refuses a bad file: exit 2, one line naming it', () => {
  const start = (file: string): ReturnType<typeof runCli> => runCli(BIN.client, [
    '--cert', certs.path('node-a', 'crt'), '--key', certs.path('node-a', 'key'), '--ca', certs.path('ca', 'crt'),
    '--gateway', 'off', '--statsd', 'off', '--data-dir', 'off', '--signing-keys-file', file,
  ], { cwd: certs.dir });

  it('readable by others (mode 0644)', () => {
    const file = secretFile('open-keys.json', JSON.stringify(KEYS), 0o644);
    const result = start(file);
    expect(result.status).toBe(2);
    expect(result.stderr.trim()).toBe(`rp-client: key file ${file} is readable by others; chmod 600 ${file}`);
  });

  it.each([
    ['{"ops-2026": "first-secret-of-the', /is not valid JSON/],
    ['[]', /must hold a JSON object/],
    ['{}', /holds no keys/],
    ['{"ops-2026": 12345678901234567890123456789012345}', /secret for "ops-2026" that is not a string/],
    ['{"has space": "a-secret-that-is-long-enough-0000000"}', /key id that does not match/],
    ['{"local": "a-secret-that-is-long-enough-0000000"}', /reserved key id "local"/],
    ['{"api-key": "a-secret-that-is-long-enough-0000000"}', /reserved key id "api-key"/],
    ['{"ops-2026": "short"}', /secret for "ops-2026" of 5 bytes; use at least 32/],
  ])('%s', (text, message) => {
    const file = secretFile('bad-keys.json', text);
    const result = start(file);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(file);
  });

  it('never prints a secret, not even the piece of the file where the JSON broke', () => {
    const file = secretFile('broken-keys.json', '{"ops-2026": "topsecret-value-0123456789-abcdefgh" oops}');
    const result = start(file);
    expect(result.status).toBe(2);
    expect(result.stderr).not.toContain('topsecret');
  });

  it('a missing file', () => {
    const result = start(join(certs.dir, 'no-such-keys.json'));
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--signing-keys-file file .* cannot be read \(ENOENT\)/);
  });
});

describe('SIGHUP reads the keys file again', () => {
  it('a key added is taken and a key removed is refused at once; a bad file is logged and the keys in use stay', async () => {
    const file = secretFile('rotating-keys.json', JSON.stringify({ 'ops-2026': KEYS['ops-2026'] }));
    const node = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${await freePort()}`, '--signing-keys-file', file, '--data-dir', 'off']);
    const get = (keyId: 'ops-2026' | 'ops-2027') => {
      const url = `${node.gateway}/_rp/clients`;
      return call(url, { headers: { ...signRequest({ method: 'GET', url }, { keyId, key: KEYS[keyId] }) } });
    };
    const hup = async (what: string): Promise<void> => {
      const before = node.output().split(what).length;
      node.kill('SIGHUP');
      await waitFor(() => node.output().split(what).length > before, what);
    };
    try {
      expect((await get('ops-2026')).status).toBe(200);
      expect((await get('ops-2027')).json().exception.message).toBe('unknown key id "ops-2027"');
      secretFile('rotating-keys.json', JSON.stringify({ 'ops-2027': KEYS['ops-2027'] }));
      await hup('SIGHUP: signing keys reloaded');
      expect((await get('ops-2027')).status).toBe(200);
      expect((await get('ops-2026')).json().exception.message).toBe('unknown key id "ops-2026"');
      secretFile('rotating-keys.json', '{"ops-2027": "short"}');
      await hup('SIGHUP: the signing keys file could not be used');
      expect((await get('ops-2027')).status).toBe(200);
      expect(node.output()).not.toContain(KEYS['ops-2027']);
    } finally {
      await node.stop();
    }
  });
});
