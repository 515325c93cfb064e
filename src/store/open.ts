// Opens the store a deployment is configured for: SQLite (a file path, a `file:` URL, or ':memory:') or
// PostgreSQL (`postgres://…`, from store.url, COSELL_STORE_URL or DATABASE_URL).
import { fileURLToPath } from 'node:url';
import { openPostgresStore } from './postgres.ts';
import { openSqliteStore } from './sqlite.ts';
import type { Store } from './store.ts';

export const DEFAULT_STORE_FILE = 'cosell.db';

export interface OpenStoreOptions {
  /** A file path, a `file:` URL, ':memory:' or `postgres://…`. Default `cosell.db` in the working directory. */
  url?: string;
  /** The tenant the returned store is bound to (`forTenant` gives others). Default 'default'. */
  tenantId?: string;
  clock?: () => Date;
}

/** Opens (creating and migrating as needed) the store; close it with `store.close()`. */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const url = options.url?.trim() || DEFAULT_STORE_FILE;
  if (/^postgres(ql)?:\/\//i.test(url)) {
    return openPostgresStore({
      url,
      ...(options.tenantId ? { tenantId: options.tenantId } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }
  const file = url.startsWith('file:') ? fileURLToPath(url) : url;
  return openSqliteStore({
    file,
    ...(options.tenantId ? { tenantId: options.tenantId } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
}
