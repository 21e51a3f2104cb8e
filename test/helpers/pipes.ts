import { PipeClient, PipeServer, type EventHandler, type PipeClientOptions, type PipeServerOptions } from '@restpipe/core';
import { afterEach, beforeAll } from 'vitest';
import { TestPki } from './pki.js';

/** Starts pipes on 127.0.0.1 and closes every one of them in `closeAll()`. */
export class PipeFixture {
  readonly #closers: Array<() => Promise<void>> = [];

  constructor(readonly pki: TestPki) {}

  async server(options: Partial<PipeServerOptions> & { handler?: EventHandler } = {}): Promise<PipeServer & { port: number }> {
    const server = new PipeServer({ tls: this.pki.tls(this.pki.server), host: '127.0.0.1', port: 0, ...options });
    const { port } = await server.listen();
    this.#closers.push(() => server.close());
    return Object.assign(server, { port });
  }

  client(port: number, name: string, options: Partial<PipeClientOptions> = {}): PipeClient {
    const client = new PipeClient({
      tls: options.tls ?? this.pki.tls(this.pki.client(name)),
      host: '127.0.0.1',
      port,
      serverName: 'localhost',
      reconnect: { minMs: 20, maxMs: 200 },
      ...options,
    });
    this.#closers.push(() => client.close());
    return client.start();
  }

  async connectedClient(port: number, name: string, options: Partial<PipeClientOptions> = {}): Promise<PipeClient> {
    const client = this.client(port, name, options);
    if (!(await client.connected(10_000))) throw new Error(`client ${name} did not connect`);
    return client;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.#closers.splice(0).map((close) => close()));
  }
}

/**
 * The usual setup of a pipe test file: one fresh PKI for the file, and every
 * pipe started through `fixture()` closed after each test.
 */
export function usePipeFixture(): { readonly pki: TestPki; fixture(): PipeFixture } {
  let pki: TestPki | undefined;
  let current: PipeFixture | undefined;
  beforeAll(() => {
    pki = new TestPki();
  });
  afterEach(async () => {
    await current?.closeAll();
    current = undefined;
  });
  return {
    get pki(): TestPki {
      return pki!;
    },
    fixture(): PipeFixture {
      current = new PipeFixture(pki!);
      return current;
    },
  };
}
