// Which process runs a tenant's recurring work (CRM poll, reconcile sweep, token renewal, retention, expiry
// warnings): one at a time, however many workers share the store, or every worker would poll the CRM and sweep
// Partner Center. The holder renews a lease row; another process takes it once it ran out, or at once when the
// holder was a process of this machine that is gone (a restart after a crash does not wait out the lease).
// Pure: the store applies `takeLease` under its lock (Store.updateCursor).
import { hostname } from 'node:os';

export const SCHEDULE_LEASE_CURSOR = 'lease:schedules';

interface Lease {
  holder: string;
  until: number;
}

function parseLease(text: string | null): Lease | null {
  if (!text) return null;
  try {
    const value = JSON.parse(text) as Partial<Lease>;
    return typeof value.holder === 'string' && typeof value.until === 'number'
      ? { holder: value.holder, until: value.until }
      : null;
  } catch {
    return null;
  }
}

/** The lease row after `holder` asks for it at `now` (null: another live holder keeps it, nothing to write). */
export function takeLease(
  stored: string | null,
  holder: string,
  now: number,
  ttlMs: number,
  isGone: (holder: string) => boolean,
): string | null {
  const lease = parseLease(stored);
  if (lease && lease.holder !== holder && lease.until > now && !isGone(lease.holder)) return null;
  return JSON.stringify({ holder, until: now + ttlMs });
}

/** The lease row after its holder stops (null: held by another, nothing to write). */
export function releaseLease(stored: string | null, holder: string): string | null {
  const lease = parseLease(stored);
  return lease?.holder === holder ? JSON.stringify({ holder: '', until: 0 }) : null;
}

export function leaseHolder(stored: string | null): string | null {
  return parseLease(stored)?.holder ?? null;
}

/** A worker id is `host:pid:random`: a holder of this machine whose process no longer exists is gone. */
export function holderGoneOnThisHost(holder: string): boolean {
  const [host, pid] = holder.split(':');
  if (host !== hostname() || !pid || !/^\d+$/.test(pid)) return false;
  if (Number(pid) === process.pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'EPERM';
  }
}
