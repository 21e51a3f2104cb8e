import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createGateway } from './gateway.js';
import { listenGateway } from './listen.js';

function gateway(): ReturnType<typeof createGateway> {
  return createGateway({
    status: { role: 'server', name: 't', connected: () => false, peers: () => 0, ready: () => true },
    send: () => Promise.reject(new Error('unused')),
    maxEventBytes: 1024,
    timeoutMs: 1000,
    exposeTracebacks: false,
  });
}

/** [mode, process umask], as octal text for the test names. */
const CASES = [[0o600, 0o000], [0o660, 0o000], [0o660, 0o077], [0o600, 0o022]]
  .map(([mode, umask]) => ({ mode: mode!, umask: umask!, modeText: mode!.toString(8), umaskText: umask!.toString(8).padStart(3, '0') }));

describe('a unix socket gateway', () => {
  it.each(CASES)('never has more than mode $modeText, and ends with it, under a process umask of $umaskText', async ({ mode, umask }) => {
    const path = join(mkdtempSync(join(tmpdir(), 'rp-sock-')), 'gw.sock');
    const app = gateway();
    const before = process.umask(umask);
    try {
      let atBind: number | undefined;
      // 'listening' comes right after bind(), before listen() resolves (and before any chmod).
      app.server.once('listening', () => {
        atBind = statSync(path).mode & 0o777;
      });
      await listenGateway(app, { kind: 'unix', path, mode });
      // Never a bit more than asked for; fewer only where the process umask takes them (then chmod adds them).
      expect(atBind! & ~mode).toBe(0);
      expect(atBind).toBe(mode & ~umask);
      expect((statSync(path).mode & 0o777).toString(8)).toBe(mode.toString(8));
      // The process umask is the one it was, at once.
      expect(process.umask(umask)).toBe(umask);
      const answer = await app.inject({ method: 'GET', url: '/_rp/health' });
      expect(answer.statusCode).toBe(200);
    } finally {
      process.umask(before);
      await app.close();
    }
  });

  it('puts the umask back when listening fails', async () => {
    const app = gateway();
    const before = process.umask(0o022);
    try {
      await expect(listenGateway(app, { kind: 'unix', path: '/nonexistent-dir/x/gw.sock', mode: 0o600 })).rejects.toThrow();
      expect(process.umask(0o022)).toBe(0o022);
    } finally {
      process.umask(before);
      await app.close();
    }
  });
});
