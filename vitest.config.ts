import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fails the run when a test leaves a process behind (see the file).
    globalSetup: ['test/support/leftovers.ts'],
    // Suites start real engines (SQLite files, DynamoDB Local, kubectl subprocesses);
    // give them room on a noisy 2-core machine, and run files in separate processes.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
