// Helpers for the store's tests: temporary store files and child processes on the same file.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

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
