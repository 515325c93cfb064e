// Benchmark: the dashboard's records list at 100k links (issue 10: "paging that stays fast at 100k links").
// Seeds a SQLite store with N links (1% failing, 0.2% dead), each with its snapshot and record summary, then
// times what the dashboard asks: the first page, a deep page by cursor, each filter, a name search, an id
// search, the overview's counts. Prints a table and one JSON line. `npm run bench -- --links 100000`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSqliteStore } from '../src/store/sqlite.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const LINKS = arg('links', 100_000);
const REPEAT = arg('repeat', 7);

const dir = mkdtempSync(join(tmpdir(), 'cosell-bench-'));
const file = join(dir, 'cosell.db');
try {
  // Migrate through the store, then seed in one transaction (the store's own writes fsync each commit).
  await (await openSqliteStore({ file })).close();
  const db = new Database(file);
  const seedStart = performance.now();
  const now = new Date().toISOString();
  const link = db.prepare(
    `insert into links (id, tenant_id, referral_id, engagement_id, crm_kind, crm_id, deal_kind, state, created_at, updated_at,
       display_name, customer_name, last_run_at, last_outcome, last_direction)
     values (?, 'default', ?, ?, 'salesforce', ?, 'opportunity', 'active', ?, ?, ?, ?, ?, ?, ?)`,
  );
  const snapshot = db.prepare(
    `insert into snapshots (link_id, tenant_id, values_json, error_rule, error_message, updated_at)
     values (?, 'default', ?, ?, ?, ?)`,
  );
  db.transaction(() => {
    for (let i = 1; i <= LINKS; i++) {
      const failing = i % 100 === 0;
      const dead = i % 500 === 7;
      link.run(
        i,
        `ref-${i}`,
        `eng-${i}`,
        `006${String(i).padStart(15, '0')}`,
        now,
        now,
        `Deal ${i} ${['Cloud Migration', 'Data Estate', 'Security Upgrade'][i % 3]}`,
        `Customer ${i % 9_000}`,
        now,
        dead ? 'dead' : failing ? 'failed' : 'changed',
        i % 2 ? 'toReferral' : 'toCrm',
      );
      snapshot.run(
        i,
        JSON.stringify({ name: `Deal ${i}`, dealValue: String(1000 + i), currency: 'USD', status: 'Active' }),
        failing ? 'country-code-missing' : null,
        failing ? `Customer account country code is missing on account 'Customer ${i}'.` : null,
        now,
      );
    }
  })();
  db.close();
  const seedMs = performance.now() - seedStart;

  const store = await openSqliteStore({ file });
  const cases: [string, () => Promise<unknown>][] = [
    ['first page (50)', () => store.listRecords({ limit: 50 })],
    ['deep page (cursor at the middle)', () => store.listRecords({ limit: 50, cursor: String(LINKS / 2) })],
    ['state=failing', () => store.listRecords({ state: 'failing', limit: 50 })],
    ['state=dead', () => store.listRecords({ state: 'dead', limit: 50 })],
    ['state=ok', () => store.listRecords({ state: 'ok', limit: 50 })],
    ['direction=toCrm', () => store.listRecords({ direction: 'toCrm', limit: 50 })],
    ['search name (common word)', () => store.listRecords({ search: 'security', limit: 50 })],
    ['search name (one match)', () => store.listRecords({ search: `deal ${LINKS - 3} `, limit: 50 })],
    ['search name (no match)', () => store.listRecords({ search: 'no such deal', limit: 50 })],
    ['search referral id', () => store.listRecords({ search: `ref-${LINKS / 4}`, limit: 50 })],
    ['record counts (overview)', () => store.recordCounts()],
    ['one record', () => store.getRecord(LINKS / 3)],
  ];
  const rows: { query: string; medianMs: number; maxMs: number }[] = [];
  for (const [query, run] of cases) {
    const times: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const t0 = performance.now();
      await run();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    rows.push({
      query,
      medianMs: Number(times[Math.floor(times.length / 2)]!.toFixed(2)),
      maxMs: Number(times.at(-1)!.toFixed(2)),
    });
  }
  await store.close();
  process.stdout.write(
    `records list at ${LINKS} links (seeded in ${(seedMs / 1000).toFixed(1)} s), ${REPEAT} runs each\n`,
  );
  console.table(rows);
  process.stdout.write(
    `${JSON.stringify({ bench: 'records', links: LINKS, repeat: REPEAT, results: rows })}\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
