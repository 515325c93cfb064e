import { defineConfig } from 'vitest/config';

// `npm run test:pg`: the suites that run against a real PostgreSQL server (each file starts its own with
// test/helpers/postgres.ts, from Debian's postgresql package).
export default defineConfig({
  test: {
    include: ['src/**/*.pg.test.ts', 'test/**/*.pg.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
