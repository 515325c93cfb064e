// Helpers for the store's tests: temporary store files and child processes on the same file.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openPostgresStore } from './postgres.ts';
import type { SqlStore } from './sql-store.ts';
import { openSqliteStore } from './sqlite.ts';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..');

export function temporaryDirectory(): { dir: string; file: (name?: string) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'cosell-store-'));
  return {
    dir,
    file: (name = 'cosell.db') => join(dir, name),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A controllable clock: tests move time instead of sleeping. */
export function testClock(start = '2026-01-05T09:00:00.000Z') {
  let now = new Date(start).getTime();
  return {
    clock: () => new Date(now),
    at: (offsetMs: number) => new Date(now + offsetMs),
    advance: (ms: number) => {
      now += ms;
      return new Date(now);
    },
  };
}

export interface Child {
  process: ChildProcessWithoutNullStreams;
  lines: string[];
  stderr: () => string;
  waitForLine: (test: (line: string) => boolean, what: string, timeoutMs?: number) => Promise<string>;
  send: (line: string) => void;
  exited: Promise<number | null>;
}

/** Starts src/store/fixtures/store-child.ts in its own Node process. */
export function startStoreChild(args: string[]): Child {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'fixtures', 'store-child.ts'), ...args],
    {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let stderr = '';
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line);
    for (const listener of listeners) listener();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      resolve(code);
      for (const listener of listeners) listener();
    }),
  );
  // Event-driven rather than polled, so a child that crashes fails the test at once with its stderr.
  const waitForLine = (test: (line: string) => boolean, what: string, timeoutMs = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const line = lines.find(test);
        if (line !== undefined) done(() => resolve(line));
        else if (child.exitCode !== null || child.signalCode !== null) {
          done(() =>
            reject(
              new Error(`child exited (${child.exitCode ?? child.signalCode}) before ${what}: ${stderr}`),
            ),
          );
        }
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${stderr}`))),
        timeoutMs,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        listeners.delete(check);
        settle();
      };
      listeners.add(check);
      check();
    });
  return {
    process: child,
    lines,
    stderr: () => stderr,
    waitForLine,
    send: (line) => child.stdin.write(`${line}\n`),
    exited,
  };
}

/**
 * Where the store suites keep a store: a SQLite file in `tmp` (npm test), or, under `npm run test:pg`
 * (COSELL_TEST_PG_URL set by its global setup), a PostgreSQL database of its own for `tmp` — so the same suites
 * are the contract both backends keep. The same `tmp` gives the same store.
 */
export async function testStoreUrl(tmp: { dir: string; file: (name?: string) => string }): Promise<string> {
  const server = process.env['COSELL_TEST_PG_URL'];
  if (!server) return tmp.file();
  const name = `t_${basename(tmp.dir)
    .replace(/[^a-zA-Z0-9]/g, '_')
    .toLowerCase()}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Opens the suites' store in `tmp` (see testStoreUrl); opening again with the same `tmp` reopens it. */
export async function openTestStore(
  tmp: { dir: string; file: (name?: string) => string },
  options: { clock?: () => Date; tenantId?: string } = {},
): Promise<SqlStore> {
  const url = await testStoreUrl(tmp);
  return url.startsWith('postgres')
    ? openPostgresStore({ url, ...options })
    : openSqliteStore({ file: url, ...options });
}
