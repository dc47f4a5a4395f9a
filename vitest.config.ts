import { defineConfig } from 'vitest/config';

// One vitest run covers unit tests beside the code (packages/*/src/**/*.test.ts)
// and cross-package, integration, crash and end-to-end tests (test/**/*.test.ts).
// test/setup/services.ts starts the real services (Swift, etcd) once per run.
export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/setup/services.ts'],
    pool: 'forks',
    poolOptions: { forks: { singleFork: false, maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    reporters: ['default'],
  },
});
