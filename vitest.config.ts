import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string): string => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the sources; child processes run the built CLIs.
    alias: {
      '@restpipe/wire': src('wire'),
      '@restpipe/core': src('core'),
      '@restpipe/certs': src('certs'),
      '@restpipe/gateway': src('gateway'),
      restpipe: src('restpipe'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // The leak test measures the heap after a real collection.
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
  },
});
