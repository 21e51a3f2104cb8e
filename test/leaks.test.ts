import { describe, expect, it } from 'vitest';
import { EventHandler, type EventContext } from '@restpipe/core';
import { TestPki } from './helpers/pki.js';
import { PipeFixture } from './helpers/pipes.js';
import { waitFor } from './helpers/wait.js';

class Handler extends EventHandler {
  get_n(_ctx: EventContext, _body: unknown, n: string) {
    return { n };
  }
}

const ROUNDS = 20;
const PER_ROUND = 1_000;
const RECONNECTS = 100;
/** Heap growth allowed from after round 1 to the end, after a full GC. */
const HEAP_BOUND_BYTES = 8 * 1024 * 1024;

function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function resourceCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

describe('leaks', () => {
  it(`${ROUNDS} rounds of ${PER_ROUND} requests and ${RECONNECTS} reconnects leave nothing behind`, { timeout: 120_000 }, async () => {
    expect(typeof (globalThis as { gc?: unknown }).gc, 'run with --expose-gc (vitest.config.ts)').toBe('function');
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    const baseline = resourceCounts();
    const pki = new TestPki();
    const pipes = new PipeFixture(pki);
    const server = await pipes.server({ handler: new Handler() });
    const client = await pipes.connectedClient(server.port, 'leaky', { handler: new Handler() });

    let heapAfterFirst = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      await Promise.all(Array.from({ length: PER_ROUND / 2 }, (_, i) => client.request({ noun: 'n', args: [String(i)] })));
      await Promise.all(Array.from({ length: PER_ROUND / 2 }, (_, i) => server.request('leaky', { noun: 'n', args: [String(i)] })));
      expect(client.connection?.inFlight).toBe(0);
      expect(client.connection?.handling).toBe(0);
      if (round === 1) {
        collect();
        heapAfterFirst = process.memoryUsage().heapUsed;
      }
    }

    for (let cycle = 0; cycle < RECONNECTS; cycle++) {
      const before = client.connection;
      before?.destroy();
      await waitFor(() => client.isConnected && client.connection !== before && server.isConnected('leaky'), `reconnect ${cycle}`);
    }
    expect((await client.request({ noun: 'n', args: ['last'] })).data).toEqual({ n: 'last' });
    expect(server.clients()[0]?.inFlight).toBe(0);

    collect();
    const growth = process.memoryUsage().heapUsed - heapAfterFirst;
    console.log(`leaks: heap growth after ${ROUNDS * PER_ROUND} requests and ${RECONNECTS} reconnects: ${(growth / 1048576).toFixed(2)} MiB`);
    expect(growth).toBeLessThan(HEAP_BOUND_BYTES);
    expect(client.listenerCount('connect') + client.listenerCount('disconnect')).toBe(0);

    await pipes.closeAll();
    // Back to the baseline: no kind of handle or timer above what was there before.
    const extra = (): Array<[string, number]> => Object.entries(resourceCounts()).filter(([kind, n]) => n > (baseline[kind] ?? 0));
    await waitFor(() => extra().length === 0, 'active resources back to the baseline', 10_000).catch(() => expect(extra()).toEqual([]));
    process.off('warning', onWarning);
    expect(warnings.filter((w) => w === 'MaxListenersExceededWarning')).toEqual([]);
  });
});
