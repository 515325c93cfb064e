import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'emulators/**/*.test.ts', 'test/**/*.test.ts', 'reliability/**/*.test.ts'],
    // The PostgreSQL suites start a PostgreSQL server of their own: `npm run test:pg` (vitest.pg.config.ts).
    exclude: ['**/node_modules/**', '**/*.pg.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start real servers on port 0; two workers match the 2-core machines.
    pool: 'forks',
    maxWorkers: 2,
  },
});
