import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { hasTool, toolPath } from './helpers/tools.js';
import { waitFor } from './helpers/wait.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

describe.runIf(hasTool('nginx'))('the nginx configs, in a real nginx', () => {
  let certs: CertDir;
  let server: NodeProcess;
  let client: NodeProcess;
  let nginx: ChildProcess;
  let nginxLog = '';
  let port: number;
  let tmp: string;

  /** Our config file with its socket directory pointed at the test's own, and its port: the address stays ours. */
  function templated(name: string): string {
    const text = readFileSync(join(ROOT, 'nginx', name), 'utf8')
      .replaceAll('/run/restpipe/', `${tmp}/`)
      .replace(/^(\s*listen\s+[^;\s]*?):80;/m, `$1:${port};`);
    const file = join(tmp, name);
    writeFileSync(file, text);
    return file;
  }

  function viaNginx(host: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer } = {}): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: { host, ...options.headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end(options.body);
    });
  }

  beforeAll(async () => {
    certs = new CertDir(['node-a']);
    tmp = join(certs.dir, 'nginx');
    mkdirSync(tmp);
    port = await freePort();
    const pipePort = await freePort();
    server = await startNode('server', certs, 'server', ['--listen', `127.0.0.1:${pipePort}`, '--gateway', `unix:${tmp}/rpserver.sock`]);
    client = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost', '--gateway', `unix:${tmp}/rpclient.sock`]);
    const conf = join(tmp, 'nginx.conf');
    writeFileSync(conf, [
      // Workers must reach the 0600 sockets, which belong to the user running the tests.
      process.getuid?.() === 0 ? 'user root;' : '',
      'worker_processes 1;',
      `pid ${tmp}/nginx.pid;`,
      `error_log ${tmp}/error.log warn;`,
      'events { worker_connections 128; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${tmp}/${k};`),
      `  include ${templated('rpserver.local.conf')};`,
      `  include ${templated('rpclient.local.conf')};`,
      '}',
    ].join('\n'));
    nginx = spawn(toolPath('nginx')!, ['-p', tmp, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
    nginx.stderr?.on('data', (d: Buffer) => (nginxLog += d.toString()));
    await waitFor(async () => {
      if (nginx.exitCode !== null) throw new Error(`nginx exited: ${nginxLog}`);
      return (await viaNginx('rpclient.local', '/_rp/ready').catch(() => ({ status: 0 }))).status === 200;
    }, 'nginx and the pipe to be up', 20_000);
  });

  afterAll(async () => {
    nginx?.kill('SIGQUIT');
    await Promise.all([client?.stop(), server?.stop()]);
  });

  it('rpclient.local reaches the server through the client gateway', async () => {
    const answer = await viaNginx('rpclient.local', '/server/time');
    expect(answer.status).toBe(200);
    expect(answer.headers['x-event-return-code']).toBe('0');
    expect(JSON.parse(answer.body.toString())).toHaveProperty('time_from_server');
  });

  it('rpserver.local reaches the client, and "//" args survive the proxy', async () => {
    const answer = await viaNginx('rpserver.local', '/client/node-a/cat//hello%20/world');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body.toString())).toEqual({ result_from_client: 'hello world' });
  });

  it('an encoded slash stays inside its argument', async () => {
    const answer = await viaNginx('rpclient.local', '/server/args//a%2Fb/c');
    expect(JSON.parse(answer.body.toString()).args).toEqual(['a/b', 'c']);
  });

  it('passes X-Request-Id through, and makes one when the caller sent none', async () => {
    const given = await viaNginx('rpclient.local', '/server/whoami', { headers: { 'x-request-id': 'via-nginx-1' } });
    expect(given.headers['x-request-id']).toBe('via-nginx-1');
    expect(JSON.parse(given.body.toString()).requestId).toBe('via-nginx-1');
    const made = await viaNginx('rpclient.local', '/server/whoami');
    expect(made.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
  });

  it('carries a 1 MiB body both ways intact', async () => {
    const bytes = Buffer.alloc(1024 * 1024, 0xab);
    const answer = await viaNginx('rpclient.local', '/server/echo', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    expect(answer.status).toBe(200);
    expect(Buffer.compare(answer.body, bytes)).toBe(0);
  });

  it('is not reachable on any address of this host but loopback', async () => {
    const external = Object.values(networkInterfaces()).flat().filter((a) => a && !a.internal && a.family === 'IPv4');
    if (external.length === 0) console.warn('no non-loopback IPv4 address here: only the configs themselves are checked');
    for (const address of external) {
      const outcome = await new Promise<string>((resolve) => {
        const socket = net.connect(port, address!.address);
        socket.once('connect', () => {
          socket.destroy();
          resolve('answered');
        });
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
      expect(outcome, `nginx on ${address!.address}:${port}`).toBe('ECONNREFUSED');
    }
  });

  it('passes envelopes and statuses through unchanged', async () => {
    const answer = await viaNginx('rpserver.local', '/client/nobody/time');
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body.toString()).exception.class).toBe('UnknownClientError');
    const traversal = await viaNginx('rpserver.local', '/client/node-a/%2e%2e/x');
    expect(traversal.status).toBe(400);
  });
});

describe('the nginx configs as shipped', () => {
  it.each(['rpserver.local.conf', 'rpclient.local.conf'])('%s listens on loopback only', (name) => {
    const listens = readFileSync(join(ROOT, 'nginx', name), 'utf8').match(/^\s*listen\s+[^;]+;/gm) ?? [];
    expect(listens.length).toBeGreaterThan(0);
    for (const line of listens) expect(line.trim()).toMatch(/^listen (127\.0\.0\.1|\[::1\]):\d+;$/);
  });
});
