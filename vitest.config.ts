import { defineConfig } from 'vitest/config';

/** Files that replace a module with vi.mock: they need a module graph of their own. */
const mocking = ['test/crypto/aead_wipe.test.ts', 'test/kms/envelope/wipe.test.ts'];

export default defineConfig({
  test: {
    // Hang protection, not a performance bound: CLI tests start several Node processes on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    // The suite is CPU-bound on 2 cores (the workers and the processes they start use about as much CPU time as two
    // cores give): two workers, and no fresh module graph per file, which re-imported src for each of 227 files.
    // Files restore what they change in globals (fake timers, spies) in their own hooks; those that vi.mock a module
    // run isolated.
    maxWorkers: 2,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'mocking', include: mocking, isolate: true } },
      { extends: true, test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: mocking, isolate: false } },
    ],
  },
});
