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
  let givingUp: Promise<void> = Promise.resolve();

  const wanted = () => !closed && listeners.size > 0;
  const onNotification = (message: pg.Notification) => {
    for (const listener of listeners.get(message.payload ?? '') ?? []) listener();
  };
  /** Gives the listening connection up: back to the pool after UNLISTEN, or destroyed when it broke. */
  const giveUp = (broken: boolean): Promise<void> => {
    const held = client;
    client = null;
    if (!held) return givingUp;
    held.removeListener('notification', onNotification);
    held.removeListener('error', onError);
    if (broken) {
      held.release(true);
      return givingUp;
    }
    givingUp = held.query(`UNLISTEN ${CHANNEL}`).then(
      () => held.release(),
      () => held.release(true),
    );
    return givingUp;
  };
  function onError(): void {
    void giveUp(true);
    if (wanted()) retry = setTimeout(listen, RECONNECT_MS).unref();
  }
  function listen(): void {
    if (client || connecting || !wanted()) return;
    connecting = (async () => {
      client = await pool.connect();
      client.on('notification', onNotification);
      client.on('error', onError);
      await client.query(`LISTEN ${CHANNEL}`);
    })()
      .catch(onError)
      .finally(() => {
        connecting = null;
        // Every listener left while it connected.
        if (!wanted()) void giveUp(false);
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
        if (!wanted() && !connecting) void giveUp(false);
      };
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      await connecting;
      await giveUp(false);
    },
  };
}
