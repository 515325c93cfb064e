// What the one-off commands (`cosell backfill`, `cosell reconcile`) run on: the deployment's store, Partner
// Center client, CRM adapter and an engine that is never started (no polls, no timers, no server). It takes the
// store's service lock when it can, so the records it queues are synced here; when a service holds the lock,
// the service syncs them.
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.ts';
import type { Engine } from '../../engine/engine.ts';
import { readTokenKey } from '../../partner-center/auth.ts';
import { openStore } from '../../store/open.ts';
import type { Store } from '../../store/store.ts';
import { CliError } from '../errors.ts';
import { openEngine } from '../service.ts';
import { lockStore } from '../service-lock.ts';
import { storeTokenProvider } from '../store-tokens.ts';

export interface EngineParts {
  engine: Engine;
  store: Store;
  /** This process holds the store lock: it syncs what it queues. */
  ownsStore: boolean;
  /** Who holds the lock when this process does not ('pid 1234'). */
  lockHolder: string | null;
  close(): Promise<void>;
}

export async function openEngineParts(
  config: Config,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  options: { lock: boolean; dryRun?: boolean; bulk?: { concurrency: number; lingerMs: number } },
): Promise<EngineParts> {
  let unlock: (() => void) | null = null;
  let lockHolder: string | null = null;
  if (options.lock) {
    try {
      unlock = lockStore(config.store.url);
    } catch (error) {
      if (!(error instanceof CliError)) throw error;
      lockHolder = /pid \d+/.exec(error.message)?.[0] ?? 'another process';
    }
  }
  const store = await openStore({ url: config.store.url, tenantId: config.tenantId });
  try {
    const tokens = storeTokenProvider(config, store, readTokenKey(env));
    const { engine } = await openEngine(config, store, tokens, {
      logger: logger.child({ component: 'one-off' }),
      dryRun: options.dryRun ?? false,
      renewCredentials: false,
      again: 'run this command again',
      ...(options.bulk ? { bulk: options.bulk } : {}),
    });
    return {
      engine,
      store,
      ownsStore: unlock !== null,
      lockHolder,
      async close() {
        await store.close();
        unlock?.();
      },
    };
  } catch (error) {
    await store.close();
    unlock?.();
    throw error;
  }
}
