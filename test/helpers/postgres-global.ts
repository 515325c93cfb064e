// Global setup of `npm run test:pg`: one PostgreSQL server for the run; the store suites open a database of their
// own on it (src/store/test-support.ts openTestStore) through COSELL_TEST_PG_URL.
import { type PostgresServer, startPostgres } from './postgres.ts';

let server: PostgresServer | undefined;

export async function setup(): Promise<void> {
  server = await startPostgres();
  const url = new URL(server.url);
  url.pathname = '/postgres';
  process.env['COSELL_TEST_PG_URL'] = url.toString();
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
