// The links: one row per referral–CRM record pair; find-or-create, attach, relink and merge, the sweeps' pages.
import type { DealKind } from '../../core/deal.ts';
import type { CrmKind } from '../../crm/port.ts';
import type { Executor } from '../driver.ts';
import { linkConflict, mergedLink, refuseSelfMerge } from '../link-rules.ts';
import { type LinkRow, toLink } from '../rows.ts';
import { type Link, type LinkResult, type LinkState, StoreError } from '../store.ts';

import { clampLimit, first, notFound, one, SqlPart } from './part.ts';

export class LinkSql extends SqlPart {
  private async linkRow(x: Executor, linkId: number): Promise<LinkRow | undefined> {
    return await first(
      x,
      this.db.selectFrom('links').selectAll().where('tenant_id', '=', this.tenantId).where('id', '=', linkId),
    );
  }

  async requireLink(x: Executor, linkId: number): Promise<LinkRow> {
    const row = await this.linkRow(x, linkId);
    if (!row) throw notFound('Link', linkId);
    return row;
  }

  private async linkRowByReferral(x: Executor, referralId: string): Promise<LinkRow | undefined> {
    return await first(
      x,
      this.db
        .selectFrom('links')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('referral_id', '=', referralId),
    );
  }

  private async linkRowByCrm(x: Executor, crmKind: CrmKind, crmId: string): Promise<LinkRow | undefined> {
    return await first(
      x,
      this.db
        .selectFrom('links')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('crm_kind', '=', crmKind)
        .where('crm_id', '=', crmId),
    );
  }

  private async updateLink(
    x: Executor,
    linkId: number,
    set: Partial<
      Pick<LinkRow, 'referral_id' | 'engagement_id' | 'crm_kind' | 'crm_id' | 'deal_kind' | 'state'>
    >,
  ): Promise<LinkRow> {
    return await one(
      x,
      this.db
        .updateTable('links')
        .set({ ...set, updated_at: this.now() })
        .where('tenant_id', '=', this.tenantId)
        .where('id', '=', linkId)
        .returningAll(),
    );
  }

  private async insertLink(
    x: Executor,
    fields: {
      referralId: string | null;
      engagementId: string | null;
      crmKind: CrmKind;
      crmId: string | null;
      dealKind: DealKind;
    },
  ): Promise<LinkRow> {
    const now = this.now();
    return await one(
      x,
      this.db
        .insertInto('links')
        .values({
          tenant_id: this.tenantId,
          referral_id: fields.referralId,
          engagement_id: fields.engagementId,
          crm_kind: fields.crmKind,
          crm_id: fields.crmId,
          deal_kind: fields.dealKind,
          state: 'active',
          created_at: now,
          updated_at: now,
        })
        .returningAll(),
    );
  }

  async getLink(linkId: number): Promise<Link | null> {
    const row = await this.read((x) => this.linkRow(x, linkId));
    return row ? toLink(row) : null;
  }

  async linkByReferral(referralId: string): Promise<Link | null> {
    const row = await this.read((x) => this.linkRowByReferral(x, referralId));
    return row ? toLink(row) : null;
  }

  async linkByCrm(crmKind: CrmKind, crmId: string): Promise<Link | null> {
    const row = await this.read((x) => this.linkRowByCrm(x, crmKind, crmId));
    return row ? toLink(row) : null;
  }

  async linksByEngagement(engagementId: string): Promise<Link[]> {
    return (
      await this.all(
        this.db
          .selectFrom('links')
          .selectAll()
          .where('tenant_id', '=', this.tenantId)
          .where('engagement_id', '=', engagementId)
          .orderBy('id'),
      )
    ).map(toLink);
  }

  async listLinks(filter: { state?: LinkState; limit?: number; afterId?: number } = {}): Promise<Link[]> {
    let query = this.db
      .selectFrom('links')
      .selectAll()
      .where('tenant_id', '=', this.tenantId)
      .where('id', '>', filter.afterId ?? 0);
    if (filter.state) query = query.where('state', '=', filter.state);
    return (await this.all(query.orderBy('id').limit(clampLimit(filter.limit, 100, 1000)))).map(toLink);
  }

  /** Active links with a CRM record whose snapshot `narrow` picks, a page by id: the sweeps' indexed questions. */
  private async sweepLinkIds(
    filter: { afterId?: number; limit?: number },
    narrow: (query: ReturnType<LinkSql['sweepQuery']>) => ReturnType<LinkSql['sweepQuery']>,
  ): Promise<number[]> {
    const query = narrow(this.sweepQuery(filter.afterId ?? 0));
    const rows = await this.all(query.orderBy('s.link_id').limit(clampLimit(filter.limit, 500, 1000)));
    return rows.map((r) => r.id);
  }

  private sweepQuery(afterId: number) {
    return this.db
      .selectFrom('snapshots as s')
      .innerJoin('links as l', 'l.id', 's.link_id')
      .select('l.id')
      .where('s.tenant_id', '=', this.tenantId)
      .where('s.link_id', '>', afterId)
      .where('l.state', '=', 'active')
      .where('l.crm_id', 'is not', null);
  }

  failedLinkIds(filter: { afterId?: number; limit?: number } = {}): Promise<number[]> {
    return this.sweepLinkIds(filter, (q) => q.where('s.error_rule', 'is not', null));
  }

  linksWithDeadlineBetween(
    from: Date,
    to: Date,
    filter: { afterId?: number; limit?: number } = {},
  ): Promise<number[]> {
    return this.sweepLinkIds(filter, (q) =>
      q
        .where('s.response_deadline', '>=', from.toISOString())
        .where('s.response_deadline', '<=', to.toISOString())
        .where('l.referral_id', 'is not', null)
        .where('l.deal_kind', '=', 'opportunity'),
    );
  }

  async findOrCreateLinkForReferral(
    referralId: string,
    init: { crmKind: CrmKind; dealKind: DealKind; engagementId?: string | null; crmId?: string | null },
  ): Promise<LinkResult> {
    return this.transaction(async (x) => {
      const engagementId = init.engagementId ?? null;
      const byReferral = await this.linkRowByReferral(x, referralId);
      const byCrm = init.crmId ? await this.linkRowByCrm(x, init.crmKind, init.crmId) : undefined;
      if (byReferral && byCrm && byReferral.id !== byCrm.id) {
        // The referral and the CRM record it names were each seen first on their own: one pair, one link.
        if (byReferral.crm_id === null && byCrm.referral_id === null) {
          const [keep, drop] = byReferral.id < byCrm.id ? [byReferral, byCrm] : [byCrm, byReferral];
          return {
            link: toLink(
              await this.fillEngagement(x, await this.mergeRows(x, keep.id, drop.id), engagementId),
            ),
            created: false,
          };
        }
        return { link: toLink(await this.fillEngagement(x, byReferral, engagementId)), created: false };
      }
      if (byReferral) {
        const row =
          init.crmId && byReferral.crm_id === null && !byCrm
            ? await this.updateLink(x, byReferral.id, { crm_kind: init.crmKind, crm_id: init.crmId })
            : byReferral;
        return { link: toLink(await this.fillEngagement(x, row, engagementId)), created: false };
      }
      if (byCrm && byCrm.referral_id === null) {
        const row = await this.updateLink(x, byCrm.id, {
          referral_id: referralId,
          engagement_id: byCrm.engagement_id ?? engagementId,
        });
        return { link: toLink(row), created: false };
      }
      // byCrm, if any, pairs with another referral: this referral gets its own link, without the CRM id.
      const row = await this.insertLink(x, {
        referralId,
        engagementId,
        crmKind: init.crmKind,
        crmId: byCrm ? null : (init.crmId ?? null),
        dealKind: init.dealKind,
      });
      return { link: toLink(row), created: true };
    });
  }

  async findOrCreateLinkForCrm(
    crmKind: CrmKind,
    crmId: string,
    init: { dealKind: DealKind; referralId?: string | null; engagementId?: string | null },
  ): Promise<LinkResult> {
    return this.transaction(async (x) => {
      const engagementId = init.engagementId ?? null;
      const byCrm = await this.linkRowByCrm(x, crmKind, crmId);
      const byReferral = init.referralId ? await this.linkRowByReferral(x, init.referralId) : undefined;
      if (byCrm && byReferral && byCrm.id !== byReferral.id) {
        if (byCrm.referral_id === null && byReferral.crm_id === null) {
          const [keep, drop] = byCrm.id < byReferral.id ? [byCrm, byReferral] : [byReferral, byCrm];
          return {
            link: toLink(
              await this.fillEngagement(x, await this.mergeRows(x, keep.id, drop.id), engagementId),
            ),
            created: false,
          };
        }
        return { link: toLink(byCrm), created: false };
      }
      if (byCrm) {
        const row =
          init.referralId && byCrm.referral_id === null && !byReferral
            ? await this.updateLink(x, byCrm.id, { referral_id: init.referralId })
            : byCrm;
        return { link: toLink(await this.fillEngagement(x, row, engagementId)), created: false };
      }
      if (byReferral && byReferral.crm_id === null) {
        const row = await this.updateLink(x, byReferral.id, {
          crm_kind: crmKind,
          crm_id: crmId,
          deal_kind: init.dealKind,
          engagement_id: byReferral.engagement_id ?? engagementId,
        });
        return { link: toLink(row), created: false };
      }
      // byReferral, if any, pairs with another CRM record (a cloned record carrying a copied Referral
      // Identifier): this record gets its own link, without the referral.
      const row = await this.insertLink(x, {
        referralId: byReferral ? null : (init.referralId ?? null),
        engagementId: byReferral ? null : engagementId,
        crmKind,
        crmId,
        dealKind: init.dealKind,
      });
      return { link: toLink(row), created: true };
    });
  }

  private async fillEngagement(x: Executor, row: LinkRow, engagementId: string | null): Promise<LinkRow> {
    if (!engagementId || row.engagement_id !== null) return row;
    return await this.updateLink(x, row.id, { engagement_id: engagementId });
  }

  async attachReferralRow(
    x: Executor,
    linkId: number,
    referralId: string,
    engagementId: string | null,
  ): Promise<LinkRow> {
    const link = await this.requireLink(x, linkId);
    if (link.referral_id === referralId) return await this.fillEngagement(x, link, engagementId);
    if (link.referral_id !== null) {
      throw new StoreError(
        'linkConflict',
        `Link ${link.id} already pairs with referral ${link.referral_id}, not ${referralId}.`,
        'A CRM record pairs with one referral: check which referral it belongs to.',
      );
    }
    const other = await this.linkRowByReferral(x, referralId);
    const row = other
      ? await this.mergeRows(x, link.id, other.id)
      : await this.updateLink(x, link.id, { referral_id: referralId });
    return await this.fillEngagement(x, row, engagementId);
  }

  private async attachCrmRow(x: Executor, linkId: number, crmId: string): Promise<LinkRow> {
    const link = await this.requireLink(x, linkId);
    if (link.crm_id === crmId) return link;
    if (link.crm_id !== null) {
      throw new StoreError(
        'linkConflict',
        `Link ${link.id} already pairs with CRM record ${link.crm_id}, not ${crmId}.`,
        'To move a link to another CRM record (lead conversion, merged records), relink it instead.',
      );
    }
    const other = await this.linkRowByCrm(x, link.crm_kind, crmId);
    return other
      ? await this.mergeRows(x, link.id, other.id)
      : await this.updateLink(x, link.id, { crm_id: crmId });
  }

  async attachReferral(linkId: number, referralId: string, engagementId?: string | null): Promise<Link> {
    return toLink(
      await this.transaction(
        async (x) => await this.attachReferralRow(x, linkId, referralId, engagementId ?? null),
      ),
    );
  }

  async attachCrm(linkId: number, crmId: string): Promise<Link> {
    return toLink(await this.transaction(async (x) => await this.attachCrmRow(x, linkId, crmId)));
  }

  async mergeLinks(keepId: number, dropId: number): Promise<Link> {
    return toLink(await this.transaction(async (x) => await this.mergeRows(x, keepId, dropId)));
  }

  async replaceCrmId(linkId: number, crmId: string, dealKind?: DealKind): Promise<Link> {
    return toLink(
      await this.transaction(async (x) => {
        const link = await this.requireLink(x, linkId);
        const kind = dealKind ?? link.deal_kind;
        const other = await this.linkRowByCrm(x, link.crm_kind, crmId);
        if (!other || other.id === link.id)
          return await this.updateLink(x, link.id, { crm_id: crmId, deal_kind: kind });
        if (
          other.referral_id !== null &&
          link.referral_id !== null &&
          other.referral_id !== link.referral_id
        ) {
          throw linkConflict(
            link,
            other,
            `CRM record ${crmId} already pairs with referral ${other.referral_id}`,
          );
        }
        // The surviving record's link folds into this one (R31 merge): free the old id, then merge.
        await this.updateLink(x, link.id, { crm_id: null });
        await this.mergeRows(x, link.id, other.id);
        return await this.updateLink(x, link.id, { crm_id: crmId, deal_kind: kind });
      }),
    );
  }

  async setLinkState(linkId: number, state: LinkState): Promise<Link> {
    return toLink(
      await this.transaction(async (x) => {
        await this.requireLink(x, linkId);
        return await this.updateLink(x, linkId, { state });
      }),
    );
  }

  /** Folds `dropId` into `keepId` (inside the caller's transaction); returns keep's row. */
  private async mergeRows(x: Executor, keepId: number, dropId: number): Promise<LinkRow> {
    refuseSelfMerge(keepId, dropId);
    const keep = await this.requireLink(x, keepId);
    const drop = await this.requireLink(x, dropId);
    const merged = mergedLink(keep, drop);
    const now = this.now();
    await this.parts.jobs.moveJobs(x, keep.id, drop.id, now);

    const keepHasSnapshot = await first(
      x,
      this.db.selectFrom('snapshots').select('link_id').where('link_id', '=', keep.id),
    );
    if (keepHasSnapshot) await x.run(this.db.deleteFrom('snapshots').where('link_id', '=', drop.id));
    else
      await x.run(this.db.updateTable('snapshots').set({ link_id: keep.id }).where('link_id', '=', drop.id));

    if (await this.parts.intents.pendingIntentRow(x, keep.id)) {
      await x.run(
        this.db
          .updateTable('create_intents')
          .set({ state: 'abandoned', updated_at: now })
          .where('link_id', '=', drop.id)
          .where('state', '=', 'pending'),
      );
    }
    await x.run(
      this.db.updateTable('create_intents').set({ link_id: keep.id }).where('link_id', '=', drop.id),
    );
    await x.run(this.db.updateTable('runs').set({ link_id: keep.id }).where('link_id', '=', drop.id));
    // Delete first: the unique (referral) and (crm) indexes would refuse keep taking drop's ids otherwise.
    await x.run(this.db.deleteFrom('links').where('id', '=', drop.id));
    return await this.updateLink(x, keep.id, merged);
  }
}
