/**
 * A child process for the store's tests, run as
 * `node --import tsx store-child.ts MODE DIR [ARG]` (against the sources):
 *
 * - `hold DIR`: opens the store, prints `open PID`, and keeps it open until killed;
 * - `open DIR`: opens and closes it, printing `opened`; a StoreError goes to stderr with
 *   exit code 2, as the CLIs do;
 * - `write DIR [WRITERS=8]`: queues jobs from WRITERS loops for ever, and prints each job's
 *   id only after its insert resolved, that is after its COMMIT;
 * - `begin DIR KEY`: begins idempotency key KEY of peer `p`, prints the outcome, hangs.
 * - `held DIR KEY`: begins KEY of peer `alice` for `sampleHold`'s request (as the receiving
 *   node does before its handler's authorize), keeps the hold with a "held" reply, prints
 *   the hold's id once that write resolved, and hangs.
 */
import { StoreError } from '@restpipe/errors';
import { Store } from '../index.js';
import { heldFingerprint, sampleHold } from './helpers.js';

const [mode, dir, arg] = process.argv.slice(2);

function hang(): void {
  setInterval(() => {}, 1 << 30);
}

async function writeForever(store: Store, writers: number): Promise<void> {
  let seq = 0;
  const body = Buffer.alloc(512, 0x62);
  const loop = async (): Promise<void> => {
    for (;;) {
      const n = seq++;
      const outcome = await store.jobs.insert({ target: 'client/ledger', verb: 'post', noun: ['seq', String(n)], body, timeoutMs: 1000, ttlMs: 3_600_000 });
      if (outcome.status !== 'inserted') throw new Error(`insert ${n}: ${outcome.status}`);
      // Pipes are written synchronously on Linux: once this returns, the parent can read it.
      process.stdout.write(`${outcome.job.id}\n`);
    }
  };
  await Promise.all(Array.from({ length: writers }, loop));
}

async function main(): Promise<void> {
  if (!mode || !dir) throw new Error('usage: store-child.ts MODE DIR [ARG]');
  let store: Store;
  try {
    store = Store.open(dir);
  } catch (error) {
    if (!(error instanceof StoreError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  switch (mode) {
    case 'hold':
      process.stdout.write(`open ${process.pid}\n`);
      return hang();
    case 'open':
      store.close();
      process.stdout.write('opened\n');
      return;
    case 'write':
      return writeForever(store, Number(arg ?? 8));
    case 'begin': {
      const outcome = await store.idempotency.begin('p', arg ?? 'k', 'fingerprint');
      process.stdout.write(`${outcome.state}\n`);
      return hang();
    }
    case 'held': {
      const key = arg ?? 'k';
      const begun = await store.idempotency.begin('alice', key, heldFingerprint());
      if (begun.state !== 'new') throw new Error(`begin: ${begun.state}`);
      const reply = (hold: { id: string }) => ({ kind: 2, status: 202, returnCode: 0, mimeType: 'application/json', body: Buffer.from(JSON.stringify({ hold: hold.id })) });
      const hold = await store.holds.create(sampleHold({ idempotencyKey: key }), reply);
      process.stdout.write(`${hold.id}\n`);
      return hang();
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
