// One running service per SQLite store: two would both claim jobs, poll the CRM and answer webhooks from the
// same file. The lock is a file next to the store holding the owner's pid; a lock whose process is gone is
// taken over (a SIGKILL leaves it behind), a live one is refused with the pid and how to stop it.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { CliError } from './errors.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock of a file store; returns its release. Stores that are not files (':memory:') need none. */
export function lockStore(storeFile: string): () => void {
  if (storeFile === ':memory:' || /^[a-z][a-z0-9+.-]*:/i.test(storeFile)) return () => {};
  const lockFile = `${storeFile}.lock`;
  // The store's directory may not exist before the first start; the store creates it the same way (0700).
  mkdirSync(dirname(lockFile), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(lockFile, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new CliError(
          `Another cosell (pid ${pid}) is already running on the store ${storeFile}.`,
          `Stop it first (kill ${pid}), or give this one its own store.url; two services on one store would sync everything twice.`,
        );
      }
      rmSync(lockFile, { force: true });
    }
  }
  throw new CliError(`Could not lock the store ${storeFile}.`, `Remove ${lockFile} if no cosell is running.`);
}
