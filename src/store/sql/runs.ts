// The runs (one audit row per sync) and the record list built from them (each link's last outcome).
import { type Selectable, sql } from 'kysely';
import type { Executor } from '../driver.ts';
import { iso, toRecord, toRun } from '../rows.ts';
import type { StoreDatabase } from '../schema.ts';
import type {
  InboxSource,
  RecordCounts,
  RecordPage,
  RecordQuery,
  RecordSummary,
  Run,
  RunInput,
  RunPage,
  RunQuery,
} from '../store.ts';

import { clampLimit, one, pageCursor, SqlPart } from './part.ts';

export class RunSql extends SqlPart {
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
    if (query.cursor) select = select.where('links.id', '<', pageCursor(query.cursor));
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
    if (query.cursor) select = select.where('id', '<', pageCursor(query.cursor));
    const rows = await this.all(select.orderBy('id', 'desc').limit(limit + 1));
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { runs: page.map(toRun), nextCursor: rows.length > limit && last ? String(last.id) : null };
  }
}
