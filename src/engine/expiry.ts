// R30: incoming referrals expire after 14 days without an answer. The record shows the deadline (a mapped
// field); this sweep adds the warning before it passes: one audit line on the record and, when configured, a
// POST to a notification webhook. The audit field itself remembers that a warning was given (a restart or a
// second worker does not warn twice), and the line changes no synced value, so its echo syncs nothing (R19).
import type { Logger } from 'pino';
import { formatAuditLine } from '../core/audit.ts';
import { isAwaitingAnswer } from '../core/deal-values.ts';
import type { CrmAdapter } from '../crm/port.ts';
import type { Store } from '../store/store.ts';
import type { EngineSettings } from './settings.ts';

export interface ExpiryContext {
  store: Store;
  crm: CrmAdapter;
  settings: EngineSettings;
  logger: Logger;
  now: () => Date;
  /** The notification POST (fetch by default). */
  post?: (url: string, body: unknown) => Promise<void>;
}

const MINUTE = 60_000;

/** The body of the optional notification webhook. */
export interface ExpiryWarning {
  event: 'referral-expiring';
  referralId: string;
  crmId: string;
  name: string;
  deadline: string;
}

/** The words that mark a warning in the audit field; the deadline makes one warning per deadline. */
export const warningMarker = (deadline: string) => `respond in Partner Center by ${deadline}`;

/** The links whose referral waits for an answer and expires within the warning window. Pure. */
export function isDueForWarning(
  values: Readonly<Record<string, unknown>> | null | undefined,
  now: Date,
  warnBeforeMs: number,
): string | null {
  const deadline = values?.responseDeadline;
  if (!isAwaitingAnswer(values?.status as string | undefined) || typeof deadline !== 'string') return null;
  const left = Date.parse(deadline) - now.getTime();
  return left > 0 && left <= warnBeforeMs ? deadline : null;
}

/** One pass over the links whose deadline falls in the warning window; returns how many records were warned. */
export async function warnExpiringReferrals(ctx: ExpiryContext): Promise<number> {
  const { warnBeforeMs, notifyUrl } = ctx.settings.expiry;
  const now = ctx.now();
  let warned = 0;
  // The store answers which deadlines fall in the window (an index, not every link's snapshot); a minute either
  // side covers timestamps written with and without milliseconds, and isDueForWarning decides exactly.
  const from = new Date(now.getTime() - MINUTE);
  const to = new Date(now.getTime() + warnBeforeMs + MINUTE);
  for (let afterId = 0; ; ) {
    const ids = await ctx.store.linksWithDeadlineBetween(from, to, { afterId, limit: 500 });
    if (ids.length === 0) return warned;
    afterId = ids.at(-1)!;
    for (const id of ids) {
      const link = await ctx.store.getLink(id);
      if (!link?.crmId || !link.referralId || link.dealKind !== 'opportunity') continue;
      const deadline = isDueForWarning((await ctx.store.getSnapshot(link.id))?.values, now, warnBeforeMs);
      if (!deadline) continue;
      const deal = await ctx.crm.findDeal({ kind: 'opportunity', id: link.crmId });
      // Answered meanwhile (the sync will tell Partner Center), or already warned about this deadline.
      if (!deal || deal.isClosed || !deal.onHold || deal.audit?.includes(warningMarker(deadline))) continue;
      const hours = Math.round((Date.parse(deadline) - now.getTime()) / 3_600_000);
      await ctx.crm.updateDeal(
        deal,
        {},
        {
          auditLine: formatAuditLine({
            now,
            direction: 'PC->CRM',
            changes: [
              `Partner Center expires this referral in about ${hours} h unless it is accepted (move it out of the on-hold stage) or declined (close it lost): ${warningMarker(deadline)}`,
            ],
          }),
        },
      );
      warned += 1;
      ctx.logger.warn({
        event: 'referral-expiring',
        referralId: link.referralId,
        crmId: link.crmId,
        deadline,
      });
      if (notifyUrl) {
        const body: ExpiryWarning = {
          event: 'referral-expiring',
          referralId: link.referralId,
          crmId: link.crmId,
          name: deal.name,
          deadline,
        };
        await (ctx.post ?? postJson)(notifyUrl, body).catch((error: Error) =>
          ctx.logger.warn({ event: 'expiry-notification-failed', url: notifyUrl, reason: error.message }),
        );
      }
    }
  }
}

async function postJson(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`the notification webhook answered ${response.status}`);
}
