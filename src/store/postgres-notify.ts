// Wakes a tenant's workers the moment another process queues a job (a webhook taken in by a web process, a
// resubmit from the CLI), instead of on their next poll: PostgreSQL's LISTEN/NOTIFY, one listening connection
// per process, the tenant id as payload. Polling stays: a notification lost with its connection only means the
// work is found a poll later.
import { CompiledQuery } from 'kysely';
import type pg from 'pg';
import type { Executor } from './driver.ts';

const CHANNEL = 'cosell_jobs_queued';
const RECONNECT_MS = 1_000;

/** Sent inside the queuing transaction: PostgreSQL delivers it at commit, and not at all on a rollback. */
export async function announceQueued(executor: Executor, tenantId: string): Promise<void> {
  await executor.run({ compile: () => CompiledQuery.raw('SELECT pg_notify($1, $2)', [CHANNEL, tenantId]) });
}

export interface QueuedWatcher {
  watch(tenantId: string, listener: () => void): () => void;
  close(): Promise<void>;
}

export function queuedWatcher(pool: pg.Pool): QueuedWatcher {
  const listeners = new Map<string, Set<() => void>>();
  let client: pg.PoolClient | null = null;
  let connecting: Promise<void> | null = null;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;

  const wanted = () => !closed && listeners.size > 0;
  const release = (broken: boolean) => {
    const held = client;
    client = null;
    // A broken connection is destroyed, not returned to the pool.
    held?.release(broken);
  };
  const lost = () => {
    release(true);
    if (wanted()) retry = setTimeout(listen, RECONNECT_MS).unref();
  };
  function listen(): void {
    if (client || connecting || !wanted()) return;
    connecting = (async () => {
      const next = await pool.connect();
      next.on('notification', (message) => {
        for (const listener of listeners.get(message.payload ?? '') ?? []) listener();
      });
      next.on('error', lost);
      client = next;
      await next.query(`LISTEN ${CHANNEL}`);
      if (!wanted()) release(false);
    })()
      .catch(lost)
      .finally(() => {
        connecting = null;
      });
  }

  return {
    watch(tenantId, listener) {
      const set = listeners.get(tenantId) ?? new Set<() => void>();
      listeners.set(tenantId, set);
      set.add(listener);
      listen();
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(tenantId);
        // The connection goes back to the pool listening: UNLISTEN first, so it is not woken for nothing.
        if (!wanted() && client && !connecting) {
          const held = client;
          client = null;
          void held.query(`UNLISTEN ${CHANNEL}`).then(
            () => held.release(),
            () => held.release(true),
          );
        }
      };
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      await connecting;
      if (client) {
        const held = client;
        client = null;
        await held.query(`UNLISTEN ${CHANNEL}`).then(
          () => held.release(),
          () => held.release(true),
        );
      }
    },
  };
}
