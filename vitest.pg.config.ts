import { defineConfig } from 'vitest/config';

// `npm run test:pg`: the store's suites again, each on a PostgreSQL database of its own (the same tests are the
// contract both backends keep), and the PostgreSQL-only suites (`*.pg.test.ts`). One server for the run, started
// from Debian's postgresql package by the global setup.
export default defineConfig({
  test: {
    include: [
      'src/store/jobs.test.ts',
      'src/store/links.test.ts',
      'src/store/records.test.ts',
      'src/store/record-list.test.ts',
      'src/store/cache-plugin.test.ts',
      'src/store/processes.test.ts',
      'src/**/*.pg.test.ts',
      'test/**/*.pg.test.ts',
    ],
    globalSetup: ['test/helpers/postgres-global.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
