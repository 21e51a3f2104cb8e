/**
 * Signals during start-up and errors that escape to the process (lifecycle.ts),
 * with real rp-server processes.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, startCli } from './helpers/cli.js';
import { CertDir, freePort, startNode, type NodeProcess } from './helpers/nodes.js';
import { waitFor } from './helpers/wait.js';

const HANDLER = `
import { appendFileSync } from 'node:fs';
import { EventHandler } from 'restpipe';

const mark = (line: string): void => appendFileSync(process.env['HOOK_LOG']!, line + '\\n');

export class Lifecycle extends EventHandler {
  async init(): Promise<void> {
    mark('init:start');
    await new Promise((resolve) => setTimeout(resolve, Number(process.env['INIT_MS'] ?? 0)));
    mark('init:done');
  }
  get_ok(): unknown {
    return { ok: true };
  }
  get_boom(): never {
    throw new Error('a handler error');
  }
  get_bug(): unknown {
    setTimeout(() => {
      throw new Error('a bug outside the handler call');
    }, 10);
    return { scheduled: true };
  }
  get_floating(): unknown {
    void Promise.reject(new Error('a promise nobody awaits'));
    return { scheduled: true };
  }
}
`;

type Child = ReturnType<typeof startCli>;
const children: Child[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

async function spawnServer(env: Record<string, string> = {}, extra: string[] = []): Promise<{ child: Child; certs: CertDir; gateway: string; pipePort: number }> {
  const certs = new CertDir(['node-a']);
  const handler = join(certs.dir, 'lifecycle-handler.ts');
  writeFileSync(handler, HANDLER);
  const [pipePort, gatewayPort] = [await freePort(), await freePort()];
  const child = startCli(BIN.server, [
    '--listen', `127.0.0.1:${pipePort}`, '--gateway', `127.0.0.1:${gatewayPort}`, '--statsd', 'off',
    '--cert', certs.path('server', 'crt'), '--key', certs.path('server', 'key'), '--ca', certs.path('ca', 'crt'),
    '--handler', `${handler}#Lifecycle`, ...extra,
  ], { cwd: certs.dir, env: { HOOK_LOG: certs.hookLog, ...env } });
  children.push(child);
  return { child, certs, gateway: `http://127.0.0.1:${gatewayPort}`, pipePort };
}

const marks = (certs: CertDir): string[] => readFileSync(certs.hookLog, 'utf8').split('\n').filter(Boolean);
const ready = (child: Child): boolean => child.output().includes('"msg":"rp-server ready"');

/** How the child ended; fails after `timeoutMs` if it did not. */
function exited(child: Child, timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still running after ${timeoutMs} ms: ${child.output().slice(-2000)}`)), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** rp-server with the handler above, and an rp-client to send it events. */
async function pair(): Promise<{ server: Child; client: NodeProcess }> {
  const { child, certs, pipePort } = await spawnServer();
  await waitFor(() => ready(child), 'rp-server to be ready', 20_000);
  const client = await startNode('client', certs, 'node-a', ['--server', `127.0.0.1:${pipePort}`, '--server-name', 'localhost']);
  children.push(client);
  await waitFor(async () => (await fetch(`${client.gateway}/_rp/ready`)).ok, 'the pipe to be up');
  return { server: child, client };
}

/** The log records of a child, parsed. */
const records = (child: Child): Array<Record<string, unknown>> =>
  child.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('signals during start-up', () => {
  it('a SIGHUP while the handler init() runs is logged, applied once started, and kills nothing', async () => {
    const { child, certs, gateway } = await spawnServer({ INIT_MS: '1500' });
    await waitFor(() => marks(certs).includes('init:start'), 'init() to start', 20_000);
    child.kill('SIGHUP');
    await waitFor(() => ready(child) || child.exitCode !== null || child.signalCode !== null, 'rp-server to be ready', 20_000);
    expect(child.signalCode).toBeNull();
    expect(ready(child)).toBe(true);
    expect(marks(certs)).toContain('init:done');
    expect(child.output()).toContain('SIGHUP during start-up');
    await waitFor(() => child.output().includes('SIGHUP: certificates reloaded'), 'the reload once started');
    expect((await fetch(`${gateway}/_rp/health`)).status).toBe(200);
    child.kill('SIGHUP'); // and once running, as always
    await waitFor(() => child.output().split('SIGHUP: certificates reloaded').length === 3, 'a second reload');
  });

  it.runIf(existsSync('/proc/self/status'))('a SIGHUP as soon as the process catches one, while the CLI still loads, is held for it', async () => {
    const { child } = await spawnServer();
    // SigCgt: the signals with a handler. SIGHUP (1) is bit 0 from early-signals.ts on.
    const catchesHup = (): boolean => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return (BigInt(`0x${/SigCgt:\s*([0-9a-f]+)/.exec(status)![1]}`) & 1n) === 1n;
    };
    await waitFor(catchesHup, 'a SIGHUP handler', 20_000, 1);
    const early = !child.output().includes('pipe listening');
    child.kill('SIGHUP');
    await waitFor(() => ready(child) || child.exitCode !== null || child.signalCode !== null, 'rp-server to be ready', 20_000);
    expect(child.signalCode).toBeNull();
    expect(early).toBe(true);
    expect(child.output()).toContain('SIGHUP during start-up');
  });

  it('a SIGTERM during start-up drains once started, and exits 0', async () => {
    const { child, certs } = await spawnServer({ INIT_MS: '1000' });
    await waitFor(() => marks(certs).includes('init:start'), 'init() to start', 20_000);
    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 0, signal: null });
    expect(marks(certs)).toContain('init:done');
    expect(child.output()).toContain('signal during start-up: draining once started');
    expect(child.output()).toContain('"msg":"stopped"');
  });
});

describe('a start-up that fails', () => {
  it('after the pipe already listens (the gateway port is taken) exits 1, naming the cause, and does not hang', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const { child } = await spawnServer({}, ['--gateway', `127.0.0.1:${port}`]);
      expect(await exited(child)).toEqual({ code: 1, signal: null });
      expect(child.output()).toContain('pipe listening');
      expect(child.output()).toMatch(/rp-server: .*EADDRINUSE/);
    } finally {
      taken.close();
    }
  });
});

describe('errors that reach the process', () => {
  it('a handler that throws is a 500, and the process carries on', async () => {
    const { server, client } = await pair();
    const response = await fetch(`${client.gateway}/server/boom`);
    expect(response.status).toBe(500);
    await new Promise((r) => setTimeout(r, 300));
    expect(server.exitCode).toBeNull();
    expect((await fetch(`${client.gateway}/server/ok`)).status).toBe(200);
    expect(records(server).some((r) => r['level'] === 60)).toBe(false);
  });

  it.each([
    ['an exception thrown from a timer a handler set', 'bug', 'uncaughtException', 'a bug outside the handler call'],
    ['a rejection nobody handles', 'floating', 'unhandledRejection', 'a promise nobody awaits'],
  ])('%s is logged fatal with its stack, and the process drains and exits 1', async (_what, noun, origin, message) => {
    const { server, client } = await pair();
    expect((await fetch(`${client.gateway}/server/${noun}`)).status).toBe(200);
    expect(await exited(server)).toEqual({ code: 1, signal: null });
    const fatal = records(server).find((r) => r['level'] === 60);
    expect(fatal).toMatchObject({ origin });
    expect(String(fatal?.['err'])).toContain(`Error: ${message}`);
    expect(String(fatal?.['err'])).toMatch(/\n\s+at /); // the stack
    expect(server.output()).toContain('"msg":"stopped"');
    // The peer was told, and reconnects (to nothing, here) rather than hanging.
    await waitFor(() => client.output().includes('disconnected from server'), 'the client to see the server go');
  });
});
