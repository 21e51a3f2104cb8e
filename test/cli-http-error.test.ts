/**
 * Issue 11, items 5 and 6 through the real CLIs: a `--handler file.ts` loaded by
 * rp-server (through tsx, so with its own copy of `restpipe`) throws HttpError and
 * ForbiddenError, and they answer as the SPEC says; a bad `reply()` code fails only
 * its own request; and millisecond flags past 2^31-1 exit 2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli } from './helpers/cli.js';
import { CertDir, startPair, type NodeProcess } from './helpers/nodes.js';

let certs: CertDir;
let server: NodeProcess;
let client: NodeProcess;

beforeAll(async () => {
  certs = new CertDir(['node-a']);
  ({ server, client } = await startPair(certs));
});

afterAll(async () => {
  await Promise.all([client?.stop(), server?.stop()]);
});

async function call(url: string): Promise<{ status: number; returnCode: string | null; exception: { class: string; code: string; message: string } }> {
  const response = await fetch(url);
  const { exception } = (await response.json()) as { exception: { class: string; code: string; message: string } };
  return { status: response.status, returnCode: response.headers.get('x-event-return-code'), exception };
}

/** When node-a's current connection was made: unchanged means no reconnect. */
async function connectedAt(): Promise<string> {
  const clients = (await (await fetch(`${server.gateway}/_rp/clients`)).json()) as Array<{ name: string; connectedAt: string }>;
  return clients.find((c) => c.name === 'node-a')!.connectedAt;
}

const directions = [
  { label: 'handled by rp-server', base: () => `${client.gateway}/server`, far: 'server' },
  { label: 'handled by rp-client', base: () => `${server.gateway}/client/node-a`, far: 'client' },
] as const;

describe.each(directions)('a --handler file.ts with its own restpipe, $label', ({ base, far }) => {
  it('throw new HttpError(404) answers 404, class HttpError, return code 251', async () => {
    expect(await call(`${base()}/missing//a.txt`)).toEqual({
      status: 404, returnCode: '251', exception: { class: 'HttpError', code: 'RP_ERR_HTTP', message: `no file a.txt on the ${far}`, traceback: '' },
    });
  });

  it('throw new HttpError(503) answers 503', async () => {
    expect(await call(`${base()}/unavailable`)).toMatchObject({ status: 503, returnCode: '251', exception: { class: 'HttpError' } });
  });

  it('throw new ForbiddenError() answers 403 with return code 252', async () => {
    expect(await call(`${base()}/denied`)).toMatchObject({ status: 403, returnCode: '252', exception: { class: 'ForbiddenError', code: 'RP_ERR_FORBIDDEN' } });
  });

  it('reply(x, {code: -1}) fails that request with 500 InvalidArgumentError; the pipe stays up', async () => {
    const before = await connectedAt();
    const slow = fetch(`${base()}/slow?ms=200`);
    expect(await call(`${base()}/badcode`)).toMatchObject({ status: 500, returnCode: '251', exception: { class: 'InvalidArgumentError', code: 'RP_ERR_INVALID_ARGUMENT' } });
    expect((await slow).status).toBe(200);
    expect((await fetch(`${base()}/time`)).status).toBe(200);
    expect(await connectedAt()).toBe(before);
  });
});

describe('millisecond flags', () => {
  it.each(['--heartbeat-ms', '--timeout-ms', '--connect-wait-ms'])('%s 2147483648 exits 2 with one line naming the flag', (flag) => {
    const result = runCli(BIN.server, [flag, '2147483648'], { env: { RP_STATSD: 'off' } });
    expect(result.status).toBe(2);
    const lines = result.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(flag);
  });

  it('an env value past 2^31-1 exits 2 too', () => {
    const result = runCli(BIN.client, [], { env: { RP_TIMEOUT_MS: '4294967295', RP_STATSD: 'off' } });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/--timeout-ms/);
  });
});
