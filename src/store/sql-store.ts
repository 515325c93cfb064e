import type Database from 'better-sqlite3';
import { type Compilable, type Kysely, type Selectable, sql } from 'kysely';
import type { DealKind } from '../core/deal.ts';
import type { CrmKind } from '../crm/port.ts';
import type { Driver, Executor } from './driver.ts';
import {
  attemptsAfterRetry,
  checkTransition,
  coalesceHint,
  foldRetry,
  mergePending,
  resubmitRunAt,
} from './job-rules.ts';
import { linkConflict, mergedLink, refuseSelfMerge } from './link-rules.ts';
import { withoutEmailAddresses, withoutPersonalChanges, withoutPersonalValues } from './retention.ts';
import {
  type IntentRow,
  iso,
  type JobRow,
  type LinkRow,
  toClaimedJob,
  toInboxEvent,
  toIntent,
  toJob,
  toLink,
  toRecord,
  toRun,
  toSnapshot,
} from './rows.ts';
import type { SnapshotsTable, StoreDatabase } from './schema.ts';
import {
  type ClaimedJob,
  type CreateIntent,
  type CreateIntentInput,
  type InboxEvent,
  type InboxEventInput,
  type InboxSource,
  type Job,
  type JobFilter,
  type JobLease,
  type JobState,
  type JobTrigger,
  type Link,
  type LinkResult,
  type LinkState,
  PERSONAL_DATA_FIELDS,
  type PurgeResult,
  type RecordCounts,
  type RecordPage,
  type RecordQuery,
  type RecordSummary,
  type ResubmitTarget,
  type RetryJobOptions,
  type Run,
  type RunFieldChange,
  type RunInput,
  type RunPage,
  type RunQuery,
  type Snapshot,
  type SnapshotUpdate,
  type Store,
  StoreError,
  type Values,
} from './store.ts';

/** What every tenant view of one opened store shares. */
export interface Connection {
  driver: Driver;
  clock: () => Date;
  /** Gives the database back (the last one closed closes it); once. */
  release: () => Promise<void>;
  sqlite?: Database.Database;
}

const PURGE_BATCH = 500;

function notFound(what: string, id: number | string): StoreError {
  return new StoreError(
    'notFound',
    `${what} ${id} does not exist in this tenant.`,
    'Check the id (list them with `cosell runs`) and the tenant.',
  );
}

export class SqlStore implements Store {
  constructor(
    private readonly connection: Connection,
    readonly tenantId: string,
  ) {}

  forTenant(tenantId: string): Store {
    return new SqlStore(this.connection, tenantId);
  }

  /** One PRAGMA's current value on this connection (operators' diagnostics and tests). */
  pragma(name: 'journal_mode' | 'synchronous' | 'busy_timeout' | 'foreign_keys'): unknown {
    return this.connection.sqlite?.pragma(name, { simple: true });
  }

  async close(): Promise<void> {
    await this.connection.release();
  }

  // ---- execution ---------------------------------------------------------------------------------------
  // An operation's queries run on the executor its transaction (or its one statement) was given: passed
  // explicitly, not found through AsyncLocalStorage, whose promise hooks would slow every promise of the process.

  private get db(): Kysely<StoreDatabase> {
    return this.connection.driver.db;
  }

  /** One statement on its own (a read, or a write needing no read before it). */
  private all<R>(query: Compilable<R>): Promise<R[]> {
    return this.connection.driver.once((x) => x.all(query));
  }

  private async first<R>(query: Compilable<R>): Promise<R | undefined> {
    return (await this.all(query))[0];
  }

  private run(query: Compilable<unknown>): Promise<number> {
    return this.connection.driver.once((x) => x.run(query));
  }

  /** Reads that need an executor (helpers) outside a transaction. */
  private read<T>(work: (x: Executor) => Promise<T>): Promise<T> {
    return this.connection.driver.once(work);
  }

  /** A store operation that writes: the tenant's write lock from its start (see driver.ts). */
  private transaction<T>(work: (x: Executor) => Promise<T>): Promise<T> {
    return this.connection.driver.transaction(this.tenantId, 'write', work);
  }

  private now(): string {
    return iso(this.connection.clock());
  }

  // ---- links -------------------------------------------------------------------------------------------

  private async linkRow(x: Executor, linkId: number): Promise<LinkRow | undefined> {
    return await first(
      x,
      this.db.selectFrom('links').selectAll().where('tenant_id', '=', this.tenantId).where('id', '=', linkId),
    );
  }

  private async requireLink(x: Executor, linkId: number): Promise<LinkRow> {
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
    narrow: (query: ReturnType<SqlStore['sweepQuery']>) => ReturnType<SqlStore['sweepQuery']>,
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

  private async attachReferralRow(
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
    await this.moveJobs(x, keep.id, drop.id, now);

    const keepHasSnapshot = await first(
      x,
      this.db.selectFrom('snapshots').select('link_id').where('link_id', '=', keep.id),
    );
    if (keepHasSnapshot) await x.run(this.db.deleteFrom('snapshots').where('link_id', '=', drop.id));
    else
      await x.run(this.db.updateTable('snapshots').set({ link_id: keep.id }).where('link_id', '=', drop.id));

    if (await this.pendingIntentRow(x, keep.id)) {
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

  /** Keeps "one pending, one running job per link" while moving drop's jobs to keep. */
  private async moveJobs(x: Executor, keepId: number, dropId: number, now: string): Promise<void> {
    const dropPending = await this.activeJobRow(x, dropId, 'pending');
    const keepPending = await this.activeJobRow(x, keepId, 'pending');
    if (dropPending && keepPending) {
      await x.run(
        this.db
          .updateTable('jobs')
          .set({ ...mergePending(keepPending, dropPending), updated_at: now })
          .where('id', '=', keepPending.id),
      );
      await x.run(this.db.deleteFrom('jobs').where('id', '=', dropPending.id));
    } else if (dropPending) {
      await x.run(this.db.updateTable('jobs').set({ link_id: keepId }).where('id', '=', dropPending.id));
    }
    const dropRunning = await this.activeJobRow(x, dropId, 'running');
    if (dropRunning && (await this.activeJobRow(x, keepId, 'running'))) {
      // Two workers on the two halves of one pair: drop's worker loses its lease (its report is refused)
      // and keep gets a pending job, so the merged link is synced again after keep's run.
      await x.run(this.db.deleteFrom('jobs').where('id', '=', dropRunning.id));
      await this.enqueueRow(x, keepId, dropRunning.trigger, now);
    }
    // What is left on drop: its running job (keep had none) and finished jobs, history only.
    await x.run(this.db.updateTable('jobs').set({ link_id: keepId }).where('link_id', '=', dropId));
  }

  // ---- snapshots ---------------------------------------------------------------------------------------

  async getSnapshot(linkId: number): Promise<Snapshot | null> {
    const row = await this.first(
      this.db
        .selectFrom('snapshots')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('link_id', '=', linkId),
    );
    return row ? toSnapshot(row) : null;
  }

  async saveSnapshot(linkId: number, update: SnapshotUpdate): Promise<Snapshot> {
    return toSnapshot(
      await this.transaction(async (x) => {
        await this.requireLink(x, linkId);
        const set: Partial<Selectable<SnapshotsTable>> = { updated_at: this.now() };
        if (update.values !== undefined) {
          set.values_json = update.values === null ? null : JSON.stringify(update.values);
          const deadline = update.values?.responseDeadline;
          set.response_deadline = typeof deadline === 'string' ? deadline : null;
        }
        if (update.referralETag !== undefined) set.referral_etag = update.referralETag;
        if (update.referralUpdatedAt !== undefined) set.referral_updated_at = update.referralUpdatedAt;
        if (update.crmVersion !== undefined) set.crm_version = update.crmVersion;
        // The cached referral goes with its eTag: a new eTag without the referral it belongs to forgets it.
        if (update.referral !== undefined)
          set.referral_json = update.referral === null ? null : JSON.stringify(update.referral);
        else if (update.referralETag !== undefined) set.referral_json = null;
        if (update.error !== undefined) {
          set.error_rule = update.error?.rule ?? null;
          set.error_message = update.error?.message ?? null;
          set.failed_digest = update.error?.digest ?? null;
        }
        const existing = await first(
          x,
          this.db.selectFrom('snapshots').select('link_id').where('link_id', '=', linkId),
        );
        if (existing) {
          return await one(
            x,
            this.db.updateTable('snapshots').set(set).where('link_id', '=', linkId).returningAll(),
          );
        }
        return await one(
          x,
          this.db
            .insertInto('snapshots')
            .values({
              link_id: linkId,
              tenant_id: this.tenantId,
              values_json: null,
              referral_etag: null,
              referral_updated_at: null,
              crm_version: null,
              error_rule: null,
              error_message: null,
              failed_digest: null,
              referral_json: null,
              updated_at: this.now(),
              ...set,
            })
            .returningAll(),
        );
      }),
    );
  }

  // ---- inbox -------------------------------------------------------------------------------------------

  async acceptInbox(event: InboxEventInput): Promise<{ event: InboxEvent; duplicate: boolean }> {
    // Returns only after COMMIT, which with synchronous=FULL has fsynced the WAL: the caller may ack.
    return this.transaction(async (x) => {
      const existing = await first(
        x,
        this.db
          .selectFrom('inbox')
          .selectAll()
          .where('tenant_id', '=', this.tenantId)
          .where('dedupe_key', '=', event.dedupeKey),
      );
      if (existing) return { event: toInboxEvent(existing), duplicate: true };
      const row = await one(
        x,
        this.db
          .insertInto('inbox')
          .values({
            tenant_id: this.tenantId,
            source: event.source,
            dedupe_key: event.dedupeKey,
            payload: event.payload,
            received_at: iso(event.receivedAt ?? this.connection.clock()),
            processed_at: null,
          })
          .returningAll(),
      );
      return { event: toInboxEvent(row), duplicate: false };
    });
  }

  async unprocessedInbox(limit: number): Promise<InboxEvent[]> {
    return (
      await this.all(
        this.db
          .selectFrom('inbox')
          .selectAll()
          .where('tenant_id', '=', this.tenantId)
          .where('processed_at', 'is', null)
          .orderBy('id')
          .limit(clampLimit(limit, 100, 10_000)),
      )
    ).map(toInboxEvent);
  }

  async markInboxProcessed(eventId: number, at?: Date): Promise<void> {
    const changed = await this.run(
      this.db
        .updateTable('inbox')
        .set({ processed_at: iso(at ?? this.connection.clock()) })
        .where('tenant_id', '=', this.tenantId)
        .where('id', '=', eventId),
    );
    if (changed === 0) throw notFound('Inbox event', eventId);
  }

  // ---- jobs --------------------------------------------------------------------------------------------

  private async activeJobRow(
    x: Executor,
    linkId: number,
    state: 'pending' | 'running',
  ): Promise<JobRow | undefined> {
    // Locked: a claim in flight (which takes no tenant lock) is waited for and seen, and none starts on it.
    return await first(
      x,
      this.connection.driver.forUpdate(
        this.db.selectFrom('jobs').selectAll().where('link_id', '=', linkId).where('state', '=', state),
      ),
    );
  }

  private async enqueueRow(
    x: Executor,
    linkId: number,
    trigger: JobTrigger,
    runAt: string,
  ): Promise<{ row: JobRow; coalesced: boolean }> {
    const now = this.now();
    const pending = await this.activeJobRow(x, linkId, 'pending');
    if (pending) {
      const row = await one(
        x,
        this.db
          .updateTable('jobs')
          .set({ ...coalesceHint(pending, trigger, runAt), updated_at: now })
          .where('id', '=', pending.id)
          .returningAll(),
      );
      return { row, coalesced: true };
    }
    const row = await one(
      x,
      this.db
        .insertInto('jobs')
        .values({
          tenant_id: this.tenantId,
          link_id: linkId,
          state: 'pending',
          trigger,
          hints: 1,
          attempts: 0,
          next_run_at: runAt,
          lease_owner: null,
          lease_expires_at: null,
          last_error: null,
          created_at: now,
          updated_at: now,
        })
        .returningAll(),
    );
    return { row, coalesced: false };
  }

  async enqueueJob(
    linkId: number,
    trigger: JobTrigger,
    runAt: Date,
  ): Promise<{ job: Job; coalesced: boolean }> {
    return this.transaction(async (x) => {
      await this.requireLink(x, linkId);
      const { row, coalesced } = await this.enqueueRow(x, linkId, trigger, iso(runAt));
      return { job: toJob(row), coalesced };
    });
  }

  /** Due pending jobs and running jobs whose lease ran out: two indexed reads (jobs_due: tenant, state, time),
   *  as an OR of the two would read every job of the tenant. */
  private dueJobs(state: 'pending' | 'running', at: string) {
    return this.db
      .selectFrom('jobs as j')
      .select(['j.id', 'j.next_run_at'])
      .where('j.tenant_id', '=', this.tenantId)
      .where('j.state', '=', state)
      .where(state === 'pending' ? 'j.next_run_at' : 'j.lease_expires_at', '<=', at);
  }

  private async anyJobDue(x: Executor, at: string): Promise<boolean> {
    if (await first(x, this.dueJobs('pending', at).limit(1))) return true;
    return (await first(x, this.dueJobs('running', at).limit(1))) !== undefined;
  }

  async claimJobs(
    owner: string,
    now: Date,
    wanted: number,
    leaseMs: number,
    options: { maxRunning?: number | null } = {},
  ): Promise<ClaimedJob[]> {
    if (wanted <= 0) return [];
    const at = iso(now);
    const expires = iso(new Date(now.getTime() + leaseMs));
    // Most polls of an idle or busy-elsewhere tenant find nothing: a read says so without taking the tenant's
    // write lock, which every worker's poll would otherwise queue on.
    if (!(await this.read((x) => this.anyJobDue(x, at)))) return [];
    const maxRunning = options.maxRunning ?? null;
    // Workers claim side by side: each locks the rows it picks and passes over those another claim (or a write
    // changing the job) holds. A cap on running jobs is counted with the tenant's other capped claims held off.
    const mode = maxRunning === null ? 'claim' : 'counted-claim';
    const skipLocked = { skipLocked: true };
    const { forUpdate } = this.connection.driver;
    return this.connection.driver.transaction(this.tenantId, mode, async (x) => {
      let limit = wanted;
      if (maxRunning !== null) {
        // Jobs whose lease still runs are running somewhere; expired ones are up for claiming.
        const live = await one(
          x,
          this.db
            .selectFrom('jobs')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('tenant_id', '=', this.tenantId)
            .where('state', '=', 'running')
            .where('lease_expires_at', '>', at),
        );
        limit = Math.min(limit, maxRunning - Number(live.n));
        if (limit <= 0) return [];
      }
      // Due pending jobs of links with nothing running, in order; and running jobs whose lease ran out.
      const pending = await x.all(
        forUpdate(
          this.dueJobs('pending', at)
            .where((eb) =>
              eb.not(
                eb.exists(
                  eb
                    .selectFrom('jobs as r')
                    .select('r.id')
                    .whereRef('r.link_id', '=', 'j.link_id')
                    .where('r.state', '=', 'running'),
                ),
              ),
            )
            .orderBy('j.next_run_at')
            .orderBy('j.id')
            .limit(limit),
          skipLocked,
        ),
      );
      const expired = await x.all(
        forUpdate(
          this.dueJobs('running', at).orderBy('j.next_run_at').orderBy('j.id').limit(limit),
          skipLocked,
        ),
      );
      const due = [...pending, ...expired]
        .sort((a, b) =>
          a.next_run_at < b.next_run_at ? -1 : a.next_run_at > b.next_run_at ? 1 : a.id - b.id,
        )
        .slice(0, limit);
      const claimed: ClaimedJob[] = [];
      for (const { id } of due) {
        claimed.push(
          toClaimedJob(
            await one(
              x,
              this.db
                .updateTable('jobs')
                .set((eb) => ({
                  state: 'running',
                  lease_owner: owner,
                  lease_expires_at: expires,
                  attempts: eb('attempts', '+', 1),
                  updated_at: at,
                }))
                .where('id', '=', id)
                .returningAll(),
            ),
          ),
        );
      }
      return claimed;
    });
  }

  /** The job row if `lease` still holds it. */
  private async leasedRow(x: Executor, lease: JobLease): Promise<JobRow | undefined> {
    // Locked, as activeJobRow: a reclaim of an expired lease in flight is waited for, and then this is not ours.
    return await first(
      x,
      this.connection.driver.forUpdate(
        this.db
          .selectFrom('jobs')
          .selectAll()
          .where('tenant_id', '=', this.tenantId)
          .where('id', '=', lease.id)
          .where('state', '=', 'running')
          .where('lease_owner', '=', lease.leaseOwner),
      ),
    );
  }

  async extendLease(job: JobLease, now: Date, leaseMs: number): Promise<boolean> {
    return this.transaction(async (x) => {
      if (!(await this.leasedRow(x, job))) return false;
      await x.run(
        this.db
          .updateTable('jobs')
          .set({ lease_expires_at: iso(new Date(now.getTime() + leaseMs)), updated_at: iso(now) })
          .where('id', '=', job.id),
      );
      return true;
    });
  }

  private async finish(
    job: JobLease,
    state: 'succeeded' | 'failed' | 'dead',
    error: string | null,
  ): Promise<boolean> {
    return this.transaction(async (x) => {
      if (!(await this.leasedRow(x, job))) return false;
      checkTransition('running', state);
      await x.run(
        this.db
          .updateTable('jobs')
          .set({ state, last_error: error, lease_expires_at: null, updated_at: this.now() })
          .where('id', '=', job.id),
      );
      if (state !== 'succeeded') {
        // The newest failure stands for the link (resubmit works by link): a link failing on every re-check
        // keeps one row, not one per attempt. The runs keep the history.
        const row = await first(x, this.db.selectFrom('jobs').select('link_id').where('id', '=', job.id));
        if (row) {
          await x.run(
            this.db
              .deleteFrom('jobs')
              .where('tenant_id', '=', this.tenantId)
              .where('link_id', '=', row.link_id)
              .where('state', 'in', ['failed', 'dead'])
              .where('id', '!=', job.id),
          );
        }
      }
      return true;
    });
  }

  async completeJob(job: JobLease): Promise<boolean> {
    return this.finish(job, 'succeeded', null);
  }

  async failJob(job: JobLease, error: string): Promise<boolean> {
    return this.finish(job, 'failed', error);
  }

  async deadLetterJob(job: JobLease, error: string): Promise<boolean> {
    return this.finish(job, 'dead', error);
  }

  async retryJob(
    job: JobLease,
    nextRunAt: Date,
    error: string,
    options: RetryJobOptions = {},
  ): Promise<boolean> {
    return this.transaction(async (x) => {
      const row = await this.leasedRow(x, job);
      if (!row) return false;
      const now = this.now();
      const attempts = attemptsAfterRetry(row.attempts, options.refundAttempt ?? false);
      const pending = await this.activeJobRow(x, row.link_id, 'pending');
      checkTransition('running', pending ? null : 'pending');
      if (pending) {
        await x.run(
          this.db
            .updateTable('jobs')
            .set({ ...foldRetry(pending, attempts, iso(nextRunAt)), last_error: error, updated_at: now })
            .where('id', '=', pending.id),
        );
        await x.run(this.db.deleteFrom('jobs').where('id', '=', row.id));
        return true;
      }
      await x.run(
        this.db
          .updateTable('jobs')
          .set({
            state: 'pending',
            attempts,
            next_run_at: iso(nextRunAt),
            last_error: error,
            lease_owner: null,
            lease_expires_at: null,
            updated_at: now,
          })
          .where('id', '=', row.id),
      );
      return true;
    });
  }

  async resubmit(target: ResubmitTarget, now?: Date): Promise<Job[]> {
    const at = iso(now ?? this.connection.clock());
    return this.transaction(async (x) => {
      const linkIds = new Set<number>();
      for (const linkId of target.linkIds ?? []) linkIds.add((await this.requireLink(x, linkId)).id);
      for (const jobId of target.jobIds ?? []) {
        const row = await first(
          x,
          this.db
            .selectFrom('jobs')
            .select('link_id')
            .where('tenant_id', '=', this.tenantId)
            .where('id', '=', jobId),
        );
        if (!row) throw notFound('Job', jobId);
        linkIds.add(row.link_id);
      }
      if (target.allFailed) {
        const rows = await x.all(
          this.db
            .selectFrom('jobs')
            .select('link_id')
            .distinct()
            .where('tenant_id', '=', this.tenantId)
            .where('state', 'in', ['failed', 'dead']),
        );
        for (const row of rows) linkIds.add(row.link_id);
      }
      const jobs: Job[] = [];
      for (const linkId of [...linkIds].sort((a, b) => a - b))
        jobs.push(toJob(await this.resubmitLink(x, linkId, at)));
      return jobs;
    });
  }

  private async resubmitLink(x: Executor, linkId: number, at: string): Promise<JobRow> {
    const finished = await x.all(
      this.db
        .selectFrom('jobs')
        .selectAll()
        .where('link_id', '=', linkId)
        .where('state', 'in', ['failed', 'dead'])
        .orderBy('id', 'desc'),
    );
    const pending = await this.activeJobRow(x, linkId, 'pending');
    const revive = pending ?? finished[0];
    if (revive) checkTransition(revive.state, 'pending');
    const drop = finished.filter((row) => row.id !== revive?.id).map((row) => row.id);
    if (drop.length > 0) await x.run(this.db.deleteFrom('jobs').where('id', 'in', drop));
    if (!revive) return (await this.enqueueRow(x, linkId, 'resubmit', at)).row;
    return await one(
      x,
      this.db
        .updateTable('jobs')
        .set({
          state: 'pending',
          trigger: 'resubmit',
          attempts: 0,
          next_run_at: resubmitRunAt(pending, at),
          lease_owner: null,
          lease_expires_at: null,
          updated_at: at,
        })
        .where('id', '=', revive.id)
        .returningAll(),
    );
  }

  async getJob(jobId: number): Promise<Job | null> {
    const row = await this.first(
      this.db.selectFrom('jobs').selectAll().where('tenant_id', '=', this.tenantId).where('id', '=', jobId),
    );
    return row ? toJob(row) : null;
  }

  async jobCounts(): Promise<Record<JobState, number>> {
    const rows = await this.all(
      this.db
        .selectFrom('jobs')
        .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
        .where('tenant_id', '=', this.tenantId)
        .groupBy('state'),
    );
    const counts: Record<JobState, number> = { pending: 0, running: 0, succeeded: 0, failed: 0, dead: 0 };
    for (const row of rows) counts[row.state as JobState] = Number(row.n);
    return counts;
  }

  async jobTimes(): Promise<{
    nextPendingAt: Date | null;
    running: { id: number; leaseExpiresAt: Date | null }[];
  }> {
    const next = await this.first(
      this.db
        .selectFrom('jobs')
        .select('next_run_at')
        .where('tenant_id', '=', this.tenantId)
        .where('state', '=', 'pending')
        .orderBy('next_run_at')
        .limit(1),
    );
    const running = await this.all(
      this.db
        .selectFrom('jobs')
        .select(['id', 'lease_expires_at'])
        .where('tenant_id', '=', this.tenantId)
        .where('state', '=', 'running'),
    );
    return {
      nextPendingAt: next ? new Date(next.next_run_at) : null,
      running: running.map((r) => ({
        id: r.id,
        leaseExpiresAt: r.lease_expires_at ? new Date(r.lease_expires_at) : null,
      })),
    };
  }

  async listJobs(filter: JobFilter = {}): Promise<Job[]> {
    let query = this.db.selectFrom('jobs').selectAll().where('tenant_id', '=', this.tenantId);
    if (filter.state !== undefined) {
      const states: readonly JobState[] = typeof filter.state === 'string' ? [filter.state] : filter.state;
      if (states.length === 0) return [];
      query = query.where('state', 'in', states);
    }
    if (filter.linkId !== undefined) query = query.where('link_id', '=', filter.linkId);
    if (filter.beforeId !== undefined) query = query.where('id', '<', filter.beforeId);
    return (await this.all(query.orderBy('id', 'desc').limit(clampLimit(filter.limit, 100, 10_000)))).map(
      toJob,
    );
  }

  async pruneRuns(olderThan: Date): Promise<number> {
    return this.transaction(
      async (x) =>
        await x.run(
          this.db
            .deleteFrom('runs')
            .where('tenant_id', '=', this.tenantId)
            .where('started_at', '<', iso(olderThan)),
        ),
    );
  }

  async pruneJobs(olderThan: Date): Promise<number> {
    return this.transaction(
      async (x) =>
        await x.run(
          this.db
            .deleteFrom('jobs')
            .where('tenant_id', '=', this.tenantId)
            .where('state', '=', 'succeeded')
            .where('updated_at', '<', iso(olderThan)),
        ),
    );
  }

  // ---- create intents ----------------------------------------------------------------------------------

  private async pendingIntentRow(x: Executor, linkId: number): Promise<IntentRow | undefined> {
    return await first(
      x,
      this.db
        .selectFrom('create_intents')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('link_id', '=', linkId)
        .where('state', '=', 'pending'),
    );
  }

  private async requireIntent(x: Executor, intentId: number): Promise<IntentRow> {
    const row = await first(
      x,
      this.db
        .selectFrom('create_intents')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('id', '=', intentId),
    );
    if (!row) throw notFound('Create intent', intentId);
    return row;
  }

  async recordCreateIntent(intent: CreateIntentInput): Promise<CreateIntent> {
    return toIntent(
      await this.transaction(async (x) => {
        await this.requireLink(x, intent.linkId);
        const pending = await this.pendingIntentRow(x, intent.linkId);
        if (pending) return pending;
        const now = this.now();
        return await one(
          x,
          this.db
            .insertInto('create_intents')
            .values({
              tenant_id: this.tenantId,
              link_id: intent.linkId,
              crm_id: intent.crmId,
              external_reference_id: intent.externalReferenceId,
              state: 'pending',
              referral_id: null,
              created_at: now,
              updated_at: now,
            })
            .returningAll(),
        );
      }),
    );
  }

  async pendingCreateIntent(linkId: number): Promise<CreateIntent | null> {
    const row = await this.read((x) => this.pendingIntentRow(x, linkId));
    return row ? toIntent(row) : null;
  }

  async confirmCreateIntent(
    intentId: number,
    referralId: string,
    how: 'confirmed' | 'adopted' = 'confirmed',
  ): Promise<{ intent: CreateIntent; link: Link }> {
    return this.transaction(async (x) => {
      const intent = await this.requireIntent(x, intentId);
      if (intent.state !== 'pending' && !(intent.state === how && intent.referral_id === referralId)) {
        throw new StoreError(
          'invalidArgument',
          `Create intent ${intentId} is ${intent.state}${intent.referral_id ? ` (referral ${intent.referral_id})` : ''}; it cannot be ${how} with referral ${referralId}.`,
          'Record a new create intent before creating another referral.',
        );
      }
      const link = await this.attachReferralRow(x, intent.link_id, referralId, null);
      const row = await one(
        x,
        this.db
          .updateTable('create_intents')
          .set({ state: how, referral_id: referralId, link_id: link.id, updated_at: this.now() })
          .where('id', '=', intentId)
          .returningAll(),
      );
      return { intent: toIntent(row), link: toLink(link) };
    });
  }

  async abandonCreateIntent(intentId: number): Promise<CreateIntent> {
    return toIntent(
      await this.transaction(async (x) => {
        const intent = await this.requireIntent(x, intentId);
        if (intent.state !== 'pending') return intent;
        return await one(
          x,
          this.db
            .updateTable('create_intents')
            .set({ state: 'abandoned', updated_at: this.now() })
            .where('id', '=', intentId)
            .returningAll(),
        );
      }),
    );
  }

  // ---- runs --------------------------------------------------------------------------------------------

  async recordRun(run: RunInput): Promise<Run> {
    return toRun(
      await this.transaction(async (x) => {
        const row = await one(
          x,
          this.db
            .insertInto('runs')
            .values({
              tenant_id: this.tenantId,
              link_id: run.linkId,
              job_id: run.jobId ?? null,
              trigger: run.trigger,
              referral_id: run.referralId,
              crm_id: run.crmId,
              outcome: run.outcome,
              direction: run.direction,
              error_message: run.error?.message ?? null,
              error_fix: run.error?.fix ?? null,
              api_calls_json: JSON.stringify(run.apiCalls),
              duration_ms: Math.round(run.durationMs),
              diff_json: JSON.stringify(run.diff),
              started_at: iso(run.startedAt),
              personal_data_purged_at: null,
            })
            .returningAll(),
        );
        if (run.linkId !== null) await this.summarise(x, run.linkId, run);
        return row;
      }),
    );
  }

  /** The link's record summary after a run (the dashboard's list): what it read and how it ended. */
  private async summarise(x: Executor, linkId: number, run: RunInput): Promise<void> {
    const set: Partial<Selectable<StoreDatabase['links']>> = {
      last_run_at: iso(run.startedAt),
      last_outcome: run.outcome,
    };
    if (run.direction !== 'none') set.last_direction = run.direction;
    if (run.name) set.display_name = run.name;
    if (run.customer) set.customer_name = run.customer;
    await x.run(
      this.db.updateTable('links').set(set).where('tenant_id', '=', this.tenantId).where('id', '=', linkId),
    );
  }

  async listRecords(query: RecordQuery = {}): Promise<RecordPage> {
    const limit = clampLimit(query.limit, 50, 500);
    let select = this.recordSelect();
    if (query.state === 'unshared' || query.state === 'orphaned') {
      select = select.where('links.state', '=', query.state);
    } else if (query.state === 'dead') {
      select = select.where('links.last_outcome', '=', 'dead');
    } else if (query.state === 'failing') {
      select = select.where((eb) =>
        eb.or([eb('snapshots.error_message', 'is not', null), eb('links.last_outcome', '=', 'failed')]),
      );
    } else if (query.state === 'ok') {
      select = select
        .where('links.state', '=', 'active')
        .where('snapshots.error_message', 'is', null)
        .where((eb) =>
          eb.or([
            eb('links.last_outcome', 'is', null),
            eb('links.last_outcome', 'not in', ['failed', 'dead']),
          ]),
        );
    }
    if (query.direction) select = select.where('links.last_direction', '=', query.direction);
    if (query.cursor) select = select.where('links.id', '<', parseRunCursor(query.cursor));
    const page = async (filtered: typeof select): Promise<RecordPage> => {
      const rows = await this.all(filtered.orderBy('links.id', 'desc').limit(limit + 1));
      const shown = rows.slice(0, limit);
      const last = shown.at(-1);
      return {
        records: shown.map(toRecord),
        nextCursor: rows.length > limit && last ? String(last.id) : null,
      };
    };
    const search = query.search?.trim();
    if (!search) return page(select);
    // An id is found through its index; only text that names no record scans names and customers.
    // One look-up per id index (the CRM one is keyed by kind first); an id names one record, two at most.
    const exact = [
      ...(await this.all(select.where('links.referral_id', '=', search))),
      ...(await this.all(
        select.where('links.crm_kind', 'in', ['salesforce', 'dynamics']).where('links.crm_id', '=', search),
      )),
    ].filter((row, i, rows) => rows.findIndex((other) => other.id === row.id) === i);
    if (exact.length > 0) {
      return { records: exact.sort((a, b) => b.id - a.id).map(toRecord), nextCursor: null };
    }
    const pattern = `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    return page(
      select.where((eb) =>
        eb.or([
          eb(sql`lower(links.display_name)`, 'like', sql`${pattern} escape '\\'`),
          eb(sql`lower(links.customer_name)`, 'like', sql`${pattern} escape '\\'`),
        ]),
      ),
    );
  }

  async getRecord(linkId: number): Promise<RecordSummary | null> {
    const row = await this.first(this.recordSelect().where('links.id', '=', linkId));
    return row ? toRecord(row) : null;
  }

  private recordSelect() {
    return this.db
      .selectFrom('links')
      .leftJoin('snapshots', 'snapshots.link_id', 'links.id')
      .selectAll('links')
      .select(['snapshots.values_json', 'snapshots.error_rule', 'snapshots.error_message'])
      .where('links.tenant_id', '=', this.tenantId);
  }

  async recordCounts(): Promise<RecordCounts> {
    const row = await this.read((x) =>
      one(
        x,
        this.db
          .selectFrom('links')
          .leftJoin('snapshots', 'snapshots.link_id', 'links.id')
          .where('links.tenant_id', '=', this.tenantId)
          .select((eb) => [
            eb.fn.countAll<number>().as('linked'),
            eb.fn
              .sum<number>(
                eb
                  .case()
                  .when(
                    eb.or([
                      eb('snapshots.error_message', 'is not', null),
                      eb('links.last_outcome', '=', 'failed'),
                    ]),
                  )
                  .then(1)
                  .else(0)
                  .end(),
              )
              .as('failing'),
            eb.fn
              .sum<number>(eb.case().when('links.last_outcome', '=', 'dead').then(1).else(0).end())
              .as('dead'),
            eb.fn
              .sum<number>(eb.case().when('links.state', '=', 'unshared').then(1).else(0).end())
              .as('unshared'),
            eb.fn
              .sum<number>(eb.case().when('links.state', '=', 'orphaned').then(1).else(0).end())
              .as('orphaned'),
          ]),
      ),
    );
    return {
      linked: Number(row.linked ?? 0),
      failing: Number(row.failing ?? 0),
      dead: Number(row.dead ?? 0),
      unshared: Number(row.unshared ?? 0),
      orphaned: Number(row.orphaned ?? 0),
    };
  }

  async lastEvents(): Promise<Partial<Record<InboxSource, Date>>> {
    const rows = await this.all(
      this.db
        .selectFrom('inbox')
        .select((eb) => ['source', eb.fn.max('received_at').as('at')])
        .where('tenant_id', '=', this.tenantId)
        .groupBy('source'),
    );
    const last: Partial<Record<InboxSource, Date>> = {};
    for (const row of rows) if (row.at) last[row.source] = new Date(String(row.at));
    return last;
  }

  async listRuns(query: RunQuery = {}): Promise<RunPage> {
    const limit = clampLimit(query.limit, 50, 500);
    let select = this.db.selectFrom('runs').selectAll().where('tenant_id', '=', this.tenantId);
    if (query.failed) select = select.where('outcome', 'in', ['failed', 'dead']);
    if (query.linkId !== undefined) select = select.where('link_id', '=', query.linkId);
    if (query.referralId) select = select.where('referral_id', '=', query.referralId);
    if (query.crmId) select = select.where('crm_id', '=', query.crmId);
    if (query.since) select = select.where('started_at', '>=', iso(query.since));
    if (query.cursor) select = select.where('id', '<', parseRunCursor(query.cursor));
    const rows = await this.all(select.orderBy('id', 'desc').limit(limit + 1));
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { runs: page.map(toRun), nextCursor: rows.length > limit && last ? String(last.id) : null };
  }

  // ---- cursors and secrets -----------------------------------------------------------------------------

  private cursorValue(name: string) {
    return this.db
      .selectFrom('cursors')
      .select('value')
      .where('tenant_id', '=', this.tenantId)
      .where('name', '=', name);
  }

  async getCursor(name: string): Promise<string | null> {
    return (await this.first(this.cursorValue(name)))?.value ?? null;
  }

  async setCursor(name: string, value: string): Promise<void> {
    const now = this.now();
    await this.transaction(
      async (x) =>
        await x.run(
          this.db
            .insertInto('cursors')
            .values({ tenant_id: this.tenantId, name, value, updated_at: now })
            .onConflict((oc) => oc.columns(['tenant_id', 'name']).doUpdateSet({ value, updated_at: now })),
        ),
    );
  }

  async updateCursor(
    name: string,
    update: (current: string | null) => string | null,
  ): Promise<string | null> {
    const now = this.now();
    return await this.transaction(async (x) => {
      const current = (await first(x, this.cursorValue(name)))?.value ?? null;
      const next = update(current);
      if (next === null || next === current) return current;
      await x.run(
        this.db
          .insertInto('cursors')
          .values({ tenant_id: this.tenantId, name, value: next, updated_at: now })
          .onConflict((oc) =>
            oc.columns(['tenant_id', 'name']).doUpdateSet({ value: next, updated_at: now }),
          ),
      );
      return next;
    });
  }

  async getSecret(name: string): Promise<string | null> {
    const row = await this.first(
      this.db
        .selectFrom('secrets')
        .select('ciphertext')
        .where('tenant_id', '=', this.tenantId)
        .where('name', '=', name),
    );
    return row?.ciphertext ?? null;
  }

  async setSecret(name: string, ciphertext: string): Promise<void> {
    const now = this.now();
    await this.transaction(
      async (x) =>
        await x.run(
          this.db
            .insertInto('secrets')
            .values({ tenant_id: this.tenantId, name, ciphertext, updated_at: now })
            .onConflict((oc) =>
              oc.columns(['tenant_id', 'name']).doUpdateSet({ ciphertext, updated_at: now }),
            ),
        ),
    );
  }

  async deleteSecret(name: string): Promise<void> {
    await this.transaction(
      async (x) =>
        await x.run(
          this.db.deleteFrom('secrets').where('tenant_id', '=', this.tenantId).where('name', '=', name),
        ),
    );
  }

  // ---- retention (R33) ---------------------------------------------------------------------------------

  async purgePersonalData(
    olderThan: Date,
    options: { fields?: readonly string[] } = {},
  ): Promise<PurgeResult> {
    const fields = options.fields ?? PERSONAL_DATA_FIELDS;
    const cutoff = iso(olderThan);
    const result: PurgeResult = { snapshots: 0, runs: 0, inboxEvents: 0 };

    // Snapshots keep their updated_at: removing data is not a sync. Read and write in one transaction, so
    // a sync that saves a newer snapshot meanwhile is never overwritten with old values.
    let afterLinkId = 0;
    for (;;) {
      const batch = await this.transaction(async (x) => {
        const rows = await x.all(
          this.db
            .selectFrom('snapshots')
            .select(['link_id', 'values_json', 'referral_json'])
            .where('tenant_id', '=', this.tenantId)
            .where('updated_at', '<', cutoff)
            .where((eb) => eb.or([eb('values_json', 'is not', null), eb('referral_json', 'is not', null)]))
            .where('link_id', '>', afterLinkId)
            .orderBy('link_id')
            .limit(PURGE_BATCH),
        );
        for (const row of rows) {
          const kept = withoutPersonalValues(JSON.parse(row.values_json ?? '{}') as Values, fields);
          // The cached referral holds the customer's contacts too: dropped whole (the next sync reads it).
          if (!kept && row.referral_json === null) continue;
          await x.run(
            this.db
              .updateTable('snapshots')
              .set({ ...(kept ? { values_json: JSON.stringify(kept) } : {}), referral_json: null })
              .where('link_id', '=', row.link_id),
          );
          result.snapshots += 1;
        }
        return rows;
      });
      if (batch.length === 0) break;
      afterLinkId = batch.at(-1)!.link_id;
    }

    const purgedAt = this.now();
    for (;;) {
      const batch = await this.transaction(async (x) => {
        const rows = await x.all(
          this.db
            .selectFrom('runs')
            .select(['id', 'diff_json', 'error_message'])
            .where('tenant_id', '=', this.tenantId)
            .where('started_at', '<', cutoff)
            .where('personal_data_purged_at', 'is', null)
            .orderBy('id')
            .limit(PURGE_BATCH),
        );
        for (const row of rows) {
          const diff = withoutPersonalChanges(JSON.parse(row.diff_json) as RunFieldChange[], fields);
          const message = row.error_message === null ? null : withoutEmailAddresses(row.error_message);
          await x.run(
            this.db
              .updateTable('runs')
              .set({
                diff_json: diff ? JSON.stringify(diff) : row.diff_json,
                error_message: message,
                personal_data_purged_at: purgedAt,
              })
              .where('id', '=', row.id),
          );
          if (diff || message !== row.error_message) result.runs += 1;
        }
        return rows;
      });
      if (batch.length === 0) break;
    }

    result.inboxEvents = await this.transaction(
      async (x) =>
        await x.run(
          this.db
            .deleteFrom('inbox')
            .where('tenant_id', '=', this.tenantId)
            .where('processed_at', 'is not', null)
            .where('received_at', '<', cutoff),
        ),
    );
    return result;
  }
}

async function first<R>(x: Executor, query: Compilable<R>): Promise<R | undefined> {
  return (await x.all(query))[0];
}

async function one<R>(x: Executor, query: Compilable<R>): Promise<R> {
  const row = await first(x, query);
  if (row === undefined) throw new Error('expected a row');
  return row;
}

function clampLimit(limit: number | undefined, fallback: number, max: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.min(Math.max(1, Math.floor(limit)), max);
}

function parseRunCursor(cursor: string): number {
  const id = Number(cursor);
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new StoreError(
      'invalidArgument',
      `'${cursor}' is not a runs page cursor.`,
      'Pass the nextCursor of the previous page.',
    );
  }
  return id;
}
