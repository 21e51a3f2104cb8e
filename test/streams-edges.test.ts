/**
 * SPEC §12 where streams meet the rest (found by review): HEAD, jobs, idempotency keys,
 * a source handed over already finished. Real rp-server and rp-client processes.
 */
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHandler, reply } from '@restpipe/core';
import { CertDir } from './helpers/nodes.js';
import { usePipeFixture } from './helpers/pipes.js';
import { logLines, startStreamPair, type StreamPair } from './helpers/stream-http.js';
import { waitFor } from './helpers/wait.js';

const MiB = 1024 * 1024;
let pair: StreamPair;

beforeAll(async () => {
  pair = await startStreamPair(new CertDir(['node-a']));
}, 60_000);

afterAll(async () => {
  await pair?.client.stop();
  await pair?.server.stop();
});

async function job(gateway: string, id: string): Promise<Record<string, unknown>> {
  return (await (await fetch(`${gateway}/_rp/jobs/${id}`)).json()) as Record<string, unknown>;
}

describe('streams beside HEAD, jobs and idempotency keys', () => {
  it('answers a HEAD with the headers of a streamed reply, and stops the far source at once', async () => {
    const before = logLines(pair.serverLog).length;
    const head = await fetch(`${pair.client.gateway}/server/bytes//${512 * MiB}/5`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(512 * MiB));
    expect(head.headers.get('content-type')).toBe('application/x-pattern');
    expect(await head.text()).toBe('');
    // The far source is closed early: far from all 512 MiB made and sent.
    await waitFor(() => logLines(pair.serverLog).slice(before).includes('bytes:closed:early'), 'the far source to close early');
  });

  it('fails a job whose handler answers with a stream (413), rather than keep it running', async () => {
    const accepted = await fetch(`${pair.client.gateway}/server/bytes//${MiB}/6`, { headers: { prefer: 'respond-async' } });
    expect(accepted.status).toBe(202);
    const { job: id } = (await accepted.json()) as { job: string };
    await waitFor(async () => (await job(pair.client.gateway, id))['status'] === 'failed', 'the job to fail');
    const result = await fetch(`${pair.client.gateway}/_rp/jobs/${id}/result`);
    expect(result.status).toBe(413);
    expect(await result.json()).toMatchObject({ exception: { class: 'BodyTooLargeError', code: 'RP_ERR_BODY_TOO_LARGE' } });
  });

  it('answers a keyed request whose handler streams with 413, and a repeat with the same 413, never an empty 200', async () => {
    const headers = { 'idempotency-key': `stream-key-${Date.now()}` };
    const first = await fetch(`${pair.client.gateway}/server/bytes//${MiB}/7`, { headers });
    expect(first.status).toBe(413);
    expect(await first.json()).toMatchObject({ exception: { code: 'RP_ERR_BODY_TOO_LARGE' } });
    const again = await fetch(`${pair.client.gateway}/server/bytes//${MiB}/7`, { headers });
    expect(again.status).toBe(413);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
  });
});

describe('a source handed over already finished (library)', () => {
  const suite = usePipeFixture();

  it('ends the stream at once, clean for an ended source and aborted for a destroyed one', async () => {
    class Handler extends EventHandler {
      get_ended() {
        const source = Readable.from([Buffer.from('all of it')]);
        source.resume();
        return new Promise((resolve) => source.once('end', () => resolve(reply.stream(source, { size: 9 }))));
      }
      get_destroyed() {
        const source = new Readable({ read() {} });
        source.destroy();
        return reply.stream(source);
      }
    }
    const fixture = suite.fixture();
    const server = await fixture.server({ handler: new Handler(), timeoutMs: 20_000 });
    const client = await fixture.connectedClient(server.port, 'node-a');
    const started = performance.now();
    const ended = await client.request({ noun: 'ended' });
    // Its bytes were read before it was handed over: an empty stream that ends, short of its size.
    await expect(finished(ended.stream.resume())).rejects.toThrow(/ended after 0 of the 9 bytes/);
    const destroyed = await client.request({ noun: 'destroyed' });
    await expect(finished(destroyed.stream.resume())).rejects.toThrow(/closed before its end/);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
