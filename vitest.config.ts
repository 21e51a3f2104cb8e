import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (pkg: string): string => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the sources; child processes run the built CLIs.
    alias: {
      '@restpipe/errors': src('errors'),
      '@restpipe/signing': src('signing'),
      '@restpipe/wire': src('wire'),
      '@restpipe/core': src('core'),
      '@restpipe/store': src('store'),
      // Before '@restpipe/certs', which would otherwise take its subpath too.
      '@restpipe/certs/names': fileURLToPath(new URL('./packages/certs/src/names.ts', import.meta.url)),
      '@restpipe/certs': src('certs'),
      '@restpipe/cluster': src('cluster'),
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
