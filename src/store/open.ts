// Opens the store a deployment is configured for. Today: SQLite (a file path, a `file:` URL, or
// ':memory:'); PostgreSQL (`postgres://…`, DATABASE_URL) implements the same Store interface next.
import { fileURLToPath } from 'node:url';
import { openSqliteStore } from './sqlite.ts';
import { type Store, StoreError } from './store.ts';

export const DEFAULT_STORE_FILE = 'cosell.db';

export interface OpenStoreOptions {
  /** A file path, a `file:` URL or ':memory:'. Default `cosell.db` in the working directory. */
  url?: string;
  /** The tenant the returned store is bound to (`forTenant` gives others). Default 'default'. */
  tenantId?: string;
  clock?: () => Date;
}

/** Opens (creating and migrating as needed) the store; close it with `store.close()`. */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const url = options.url?.trim() || DEFAULT_STORE_FILE;
  if (/^postgres(ql)?:\/\//i.test(url)) {
    throw new StoreError(
      'unsupportedUrl',
      'PostgreSQL stores are not supported by this version of cosell yet.',
      'Use a SQLite file path (the default, cosell.db) for now.',
    );
  }
  const file = url.startsWith('file:') ? fileURLToPath(url) : url;
  return openSqliteStore({
    file,
    ...(options.tenantId ? { tenantId: options.tenantId } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
}
