import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'emulators/**/*.test.ts', 'test/**/*.test.ts', 'reliability/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start real servers on port 0; two workers match the 2-core machines.
    pool: 'forks',
    maxWorkers: 2,
  },
});
