/**
 * examples/file-server.ts, the seed use case of SPEC §12, loaded by a real rp-server and asked
 * through a real rp-client's gateway. The served files are made here, in a temp dir, at test time.
 * Requests go out with node:http so that `..` and `%2e` reach the gateway as written (fetch's URL
 * parser would resolve them before sending).
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, runCli } from './helpers/cli.js';
import { CertDir, startPair, type NodePair } from './helpers/nodes.js';
import { forgetDir, reapDir } from './helpers/reaper.js';

const EXAMPLE = join(ROOT, 'examples/file-server.ts');
const MiB = 1024 * 1024;
const BIG_BYTES = 64 * MiB;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body, kept only when asked for; `bytes` and `sha256` are always counted as it streams. */
  body: Buffer;
  bytes: number;
  sha256: string;
}

/** One request with the path sent exactly as given. */
function ask(base: string, path: string, { method = 'GET', keep = true } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Host and port from the base, the path as it is: a URL object would resolve its dot segments.
    const { hostname, port } = new URL(base);
    const request = http.request({ hostname, port, path, method }, (res) => {
      const hash = createHash('sha256');
      const kept: Buffer[] = [];
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        if (keep) kept.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(kept), bytes, sha256: hash.digest('hex') }));
    });
    request.on('error', reject);
    request.end();
  });
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Writes `bytes` random bytes to `file` a MiB at a time; answers their sha256. */
function writeRandomFile(file: string, bytes: number): string {
  const hash = createHash('sha256');
  const fd = openSync(file, 'w');
  try {
    for (let written = 0; written < bytes; written += MiB) {
      const chunk = randomBytes(Math.min(MiB, bytes - written));
      hash.update(chunk);
      writeSync(fd, chunk);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Peak resident memory of a process so far, in bytes (Linux /proc). */
function peakRss(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN) * 1024;
}

describe('examples/file-server.ts: files of any size from under RP_FILES_ROOT, never from outside it', () => {
  let certs: CertDir;
  let pair: NodePair;
  let root: string;
  let outside: string;
  let bigSha = '';
  const small = { 'blob.bin': randomBytes(3000), 'picture.png': randomBytes(500) };
  const get = (path: string, options?: { method?: string; keep?: boolean }) => ask(pair.client.gateway, `/server/files//${path}`, options);

  beforeAll(async () => {
    certs = new CertDir(['node-a']);
    reapDir(certs.dir);
    root = join(certs.dir, 'files');
    outside = join(certs.dir, 'outside');
    for (const dir of [root, outside, join(root, 'docs/guides'), join(root, 'with space'), join(root, 'sub')]) mkdirSync(dir, { recursive: true });
    writeFileSync(join(root, 'hello.txt'), 'hello, file server\n');
    writeFileSync(join(root, 'empty.txt'), '');
    for (const [name, data] of Object.entries(small)) writeFileSync(join(root, name), data);
    writeFileSync(join(root, 'data.unknownext'), 'what is this');
    writeFileSync(join(root, 'README'), 'no extension');
    writeFileSync(join(root, 'docs/guides/intro.md'), '# Intro\n');
    writeFileSync(join(root, 'with space/my report (final).txt'), 'spaced out\n');
    writeFileSync(join(root, '100% ü.txt'), 'percent and umlaut\n');
    writeFileSync(join(outside, 'secret.txt'), 'never served\n');
    symlinkSync('../outside/secret.txt', join(root, 'leak.txt'));
    symlinkSync(outside, join(root, 'leakdir'));
    symlinkSync('/etc/passwd', join(root, 'passwd'));
    symlinkSync('hello.txt', join(root, 'alias.txt'));
    symlinkSync('docs', join(root, 'aliasdir'));
    bigSha = writeRandomFile(join(root, 'big.dat'), BIG_BYTES);
    // The root is given through a symlink of its own: the example resolves it at start-up.
    symlinkSync(root, join(certs.dir, 'served'));
    pair = await startPair(certs, ['--handler', EXAMPLE], [], { RP_FILES_ROOT: join(certs.dir, 'served') });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([pair?.client.stop(), pair?.server.stop()]);
    if (certs) {
      rmSync(certs.dir, { recursive: true, force: true });
      forgetDir(certs.dir);
    }
  });

  const expectFile = (res: Answer, data: Buffer | string, mimeType: string): void => {
    const bytes = Buffer.from(data);
    expect([res.status, res.headers['x-event-return-code']]).toEqual([200, '0']);
    expect(res.headers['content-type']).toBe(mimeType);
    expect(res.headers['content-length']).toBe(String(bytes.length));
    expect(res.body.equals(bytes)).toBe(true);
  };

  const expectRefused = (res: Answer, status: number): void => {
    expect(res.status).toBe(status);
    const { exception } = JSON.parse(res.body.toString());
    expect([exception.class, exception.code]).toEqual(['HttpError', 'RP_ERR_HTTP']);
    expect(res.body.toString()).not.toContain('never served');
    expect(res.body.toString()).not.toContain(root);
  };

  it('serves a text file as text/plain, with its Content-Length', async () => {
    expectFile(await get('hello.txt'), 'hello, file server\n', 'text/plain; charset=utf-8');
    expectFile(await get('empty.txt'), '', 'text/plain; charset=utf-8');
  });

  it('serves binaries byte for byte, typed by extension, octet-stream when the extension is unknown', async () => {
    expectFile(await get('blob.bin'), small['blob.bin'], 'application/octet-stream');
    expectFile(await get('picture.png'), small['picture.png'], 'image/png');
    expectFile(await get('data.unknownext'), 'what is this', 'application/octet-stream');
    expectFile(await get('README'), 'no extension', 'application/octet-stream');
  });

  it('streams a 64 MiB file end to end: same sha256, Content-Length the file size, flat memory on both nodes', async () => {
    const before = [peakRss(pair.server.pid!), peakRss(pair.client.pid!)];
    const res = await get('big.dat', { keep: false });
    expect([res.status, res.headers['content-type'], res.headers['content-length']]).toEqual([200, 'application/octet-stream', String(BIG_BYTES)]);
    expect([res.bytes, res.sha256]).toEqual([BIG_BYTES, bigSha]);
    // A node that held the file whole would lift its peak by all 64 MiB at least. Streamed, the peak
    // grows by what the garbage collector lets pile up (about 35-45 MiB here, the same for 16 or 256 MiB).
    const growth = [peakRss(pair.server.pid!), peakRss(pair.client.pid!)].map((peak, i) => peak - before[i]!);
    expect(growth.every((bytes) => bytes < (3 / 4) * BIG_BYTES), `peak RSS growth ${growth.map((b) => (b / MiB).toFixed(1)).join(', ')} MiB`).toBe(true);
  }, 120_000);

  it('serves nested paths and percent-encoded names with spaces', async () => {
    expectFile(await get('docs/guides/intro.md'), '# Intro\n', 'text/markdown; charset=utf-8');
    expectFile(await get('with%20space/my%20report%20(final).txt'), 'spaced out\n', 'text/plain; charset=utf-8');
    expectFile(await get(`${encodeURIComponent('100% ü.txt')}`), 'percent and umlaut\n', 'text/plain; charset=utf-8');
    // An encoded slash is a separator once decoded: the same file.
    expectFile(await get('docs%2Fguides%2Fintro.md'), '# Intro\n', 'text/markdown; charset=utf-8');
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const res = await get('hello.txt', { method: 'HEAD' });
    expect([res.status, res.headers['content-type'], res.headers['content-length'], res.bytes]).toEqual([200, 'text/plain; charset=utf-8', '19', 0]);
  });

  it('a missing file, a directory and a path through a file are 404', async () => {
    for (const path of ['nope.txt', 'docs/nope.md', 'sub', 'docs/guides', 'hello.txt/more', '.']) {
      const res = await get(path);
      expectRefused(res, 404);
    }
    expect(JSON.parse((await get('nope.txt')).body.toString()).exception.message).toBe('no file nope.txt here');
  });

  it('an empty path or a NUL byte is 400', async () => {
    expectRefused(await get(''), 400);
    expectRefused(await get('hello.txt%00.png'), 400);
  });

  it('no `..` or absolute path leads outside the root: 403, whether the target exists or not', async () => {
    for (const path of [
      '../outside/secret.txt',
      '%2e%2e/outside/secret.txt',
      '..%2Foutside%2Fsecret.txt',
      'sub/../../outside/secret.txt',
      '../outside/no-such-file',
      '%2Fetc%2Fpasswd',
      `${encodeURIComponent(join(outside, 'secret.txt'))}`,
    ]) {
      expectRefused(await get(path), 403);
    }
    // Dots that stay inside the root are only a path.
    expectFile(await get('sub/../hello.txt'), 'hello, file server\n', 'text/plain; charset=utf-8');
  });

  it('a symlink inside the root that points outside it is 403; one that points inside is served', async () => {
    for (const path of ['leak.txt', 'leakdir/secret.txt', 'passwd']) expectRefused(await get(path), 403);
    const alias = await get('alias.txt');
    expectFile(alias, 'hello, file server\n', 'text/plain; charset=utf-8');
    expect(alias.sha256).toBe(sha256(Buffer.from('hello, file server\n')));
    expectFile(await get('aliasdir/guides/intro.md'), '# Intro\n', 'text/markdown; charset=utf-8');
  });

  it('refuses to start, with a clear line, when RP_FILES_ROOT is missing or not a directory', () => {
    const start = (value: string | undefined) => runCli(BIN.server, [
      '--cert', certs.path('server', 'crt'), '--key', certs.path('server', 'key'), '--ca', certs.path('ca', 'crt'),
      '--listen', '127.0.0.1:0', '--gateway', 'off', '--statsd', 'off', '--handler', EXAMPLE,
    ], { cwd: certs.dir, env: { RP_FILES_ROOT: value } });
    const missing = start(undefined);
    expect([missing.status, missing.stderr]).toEqual([2, expect.stringContaining('RP_FILES_ROOT is not set')]);
    const absent = start(join(certs.dir, 'no-such-dir'));
    expect([absent.status, absent.stderr]).toEqual([2, expect.stringContaining('cannot be used')]);
    const file = start(join(root, 'hello.txt'));
    expect([file.status, file.stderr]).toEqual([2, expect.stringContaining('is not a directory')]);
  });
});
