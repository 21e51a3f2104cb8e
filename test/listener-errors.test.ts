/**
 * An error the listening TLS socket reports after it listens (accept() failing
 * with ENOMEM or ENOBUFS) is logged and surfaced, never swallowed, and the
 * server keeps serving.
 *
 * No test can make a real accept() fail on demand: EMFILE and ENFILE, the
 * failures a ulimit can cause, are absorbed by libuv itself (it closes a spare
 * descriptor, accepts the connection and drops it, and reports nothing; tried
 * with `ulimit -n`), and ENOMEM/ENOBUFS need the kernel out of memory. So the
 * test finds the real tls.Server among the process's live handles and has it
 * emit what Node emits for such a failure (net.js onconnection: an errno
 * exception with syscall 'accept').
 */
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { memoryLogger } from './helpers/logs.js';
import { usePipeFixture } from './helpers/pipes.js';
import { nextEvent } from './helpers/wait.js';

const suite = usePipeFixture();

function liveTlsServer(port: number): tls.Server {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const server = handles.find((h): h is tls.Server => h instanceof tls.Server && (h.address() as { port?: number } | null)?.port === port);
  if (!server) throw new Error(`no live tls.Server on port ${port}`);
  return server;
}

const acceptFailure = (): Error => Object.assign(new Error('accept ENOBUFS'), { code: 'ENOBUFS', errno: -105, syscall: 'accept' });

describe('errors of the listening socket', () => {
  it('are logged as errors, and emitted as `error` when someone listens', async () => {
    const logger = memoryLogger();
    const server = await suite.fixture().server({ logger });
    const emitted = nextEvent<[Error]>(server, 'error');
    liveTlsServer(server.port).emit('error', acceptFailure());
    expect((await emitted)[0]).toMatchObject({ code: 'ENOBUFS', syscall: 'accept' });
    expect(logger.records).toContainEqual(expect.objectContaining({ level: 'error', msg: 'pipe listener error', code: 'ENOBUFS', syscall: 'accept' }));
  });

  it('with nobody listening for `error`: logged, not thrown, and the server still serves', async () => {
    const logger = memoryLogger();
    const fixture = suite.fixture();
    const server = await fixture.server({ logger });
    expect(server.listenerCount('error')).toBe(0);
    liveTlsServer(server.port).emit('error', acceptFailure());
    expect(logger.records.filter((r) => r.msg === 'pipe listener error')).toHaveLength(1);
    const client = await fixture.connectedClient(server.port, 'after-error');
    expect((await client.request({ noun: 'time' })).returnCode).toBe(0);
  });
});
