// The Dynamics 365 (Dataverse) implementation of the CRM port, with the fewest calls the Web API allows:
// - a deal is read with one GET expanding its account, contact connections and solution rows, plus one $batch
//   of GETs for the contacts and catalogue rows when it has any;
// - a create is one $batch of look-ups (existing deal, account, contacts, catalogue rows) and one $batch change
//   set of writes (account, contacts, opportunity upsert by the referral-identifier alternate key with
//   If-None-Match, solution rows, contact connections): atomic, and a retried create never duplicates;
// - an update is one PATCH (or one change set when contacts or solutions change too), data and sync fields
//   together; a close is one change set of the PATCH and WinOpportunity / LoseOpportunity;
// - the change feed follows change-tracking delta links of opportunities, leads, accounts, connections and
//   solution rows, filtered client-side to synced or linked deals (track-changes refuses $filter).
// Contacts of an opportunity are `connections` (record1 = opportunity, record2 = contact), the "Stakeholders"
// of the Dynamics 365 form; the first one is also the opportunity's parentcontactid.
import type { DynamicsWebApi, Expand } from 'dynamics-web-api';
import { appendAuditLine } from '../../core/audit.ts';
import type { AccountInput, ContactInput, Deal, DealKind, SolutionRef } from '../../core/deal.ts';
import type { FieldLimits } from '../../core/fit.ts';
import { STATUS_MARKS } from '../../core/normalize.ts';
import type { Coalescer } from '../../lib/coalescer.ts';
import { TtlCache } from '../../lib/ttl-cache.ts';
import { type CreateItem, createBatcher, createThrough, unique } from '../batch-creates.ts';
import {
  type ChangeFeedOptions,
  type ChangeFeedPage,
  type CreateDealResult,
  type CrmAdapter,
  CrmError,
  type CurrencySupport,
  type DealChange,
  type DealPatch,
  type DealRef,
  type NewDeal,
  type SchemaReport,
  type SolutionImportResult,
  type SyncWrite,
} from '../port.ts';
import { DataverseClient, type DataverseClientOptions } from './client.ts';
import { type CurrencyTable, readCurrencies } from './currencies.ts';
import { checkSolutionSchema, readVariables } from './doctor.ts';
import { isExpiredChangeToken } from './errors.ts';
import { ACCOUNT_COLUMNS, DEFAULT_LENGTHS, ENTITY_SETS, FILTER_CHUNK } from './fields.ts';
import {
  accountColumns,
  accountFromRow,
  accountToRow,
  catalogueColumns,
  contactColumns,
  contactToRow,
  dealFieldsToOpportunity,
  type Effective,
  effectiveSettings,
  keyOf,
  leadColumns,
  leadToDeal,
  opportunityColumns,
  opportunityToDeal,
  quote,
  type Row,
  storedName,
  versionOf,
} from './mapping.ts';
import {
  type DynamicsConnection,
  type DynamicsSettings,
  type DynamicsSettingsInput,
  parseDynamicsSettings,
} from './settings.ts';

const USER_CACHE_MS = 10 * 60_000;

const CACHE_MS = 5 * 60_000;

type Rows = { value?: Row[]; oDataDeltaLink?: string; oDataNextLink?: string };

/** The change feed's cursor: one delta link per tracked table, and when it was taken. */
interface Cursor {
  v: 1;
  at: string;
  links: Partial<Record<FeedTable, string>>;
}
type FeedTable = 'opportunities' | 'leads' | 'accounts' | 'connections' | 'solutions';

const guid = (id: string) => id.toLowerCase();
const orEq = (column: string, values: string[], quoteValues = false) =>
  values.map((v) => `${column} eq ${quoteValues ? quote(v) : v}`).join(' or ');
const sameEmail = (a: string | null | undefined, b: string | null | undefined) =>
  Boolean(a && b && a.toLowerCase() === b.toLowerCase());

/** Creates per batch of look-ups: the filters stay well inside a URL, and a batch's look-ups in one page. */
const CREATE_BATCH_MAX = 50;

export class DynamicsAdapter implements CrmAdapter {
  readonly crm = 'dynamics' as const;
  readonly client: DataverseClient;
  readonly settings: DynamicsSettings;
  private effectiveCache: { value: Effective; readAt: number } | undefined;
  private currencyCache: { value: CurrencyTable; readAt: number } | undefined;
  /** Set by `batchCreates`: creates gathered into batches. */
  private creates: Coalescer<CreateItem, CreateDealResult> | undefined;
  private limits: Record<DealKind, FieldLimits> | undefined;
  /** CRM users by e-mail (R29 owners): users change rarely, and each incoming referral asks. */
  private readonly users = new TtlCache<string | null>(USER_CACHE_MS);
  private countryCodes: { byId: Map<string, string>; byCode: Map<string, string> } | undefined;

  constructor(client: DataverseClient, settings: DynamicsSettings) {
    this.client = client;
    this.settings = settings;
  }

  static async connect(
    connection: DynamicsConnection,
    settings: DynamicsSettingsInput = {},
    clientOptions: DataverseClientOptions = {},
  ): Promise<DynamicsAdapter> {
    const client = await DataverseClient.connect(connection, clientOptions);
    return new DynamicsAdapter(client, parseDynamicsSettings(settings));
  }

  /** Config over environment variables over defaults, re-read every few minutes so an admin's change to an
   *  environment variable is seen without a restart. */
  async effective(): Promise<Effective> {
    const now = Date.now();
    if (this.effectiveCache && now - this.effectiveCache.readAt < CACHE_MS) return this.effectiveCache.value;
    const variables = await readVariables(this.client, this.settings.prefix);
    const value = effectiveSettings(this.settings, variables);
    this.effectiveCache = { value, readAt: now };
    return value;
  }

  private async currencyTable(): Promise<CurrencyTable> {
    const now = Date.now();
    if (this.currencyCache && now - this.currencyCache.readAt < CACHE_MS) return this.currencyCache.value;
    const value = await readCurrencies(this.client);
    this.currencyCache = { value, readAt: now };
    return value;
  }

  async currencies(): Promise<CurrencySupport> {
    const { corporate, enabled } = await this.currencyTable();
    return { corporate, enabled };
  }

  /** Column lengths from metadata (one $batch, once per adapter). The name keeps room for the ✔/✖ mark. */
  async fieldLimits(kind: DealKind): Promise<FieldLimits> {
    if (!this.limits) {
      const e = await this.effective();
      const results = (await this.client.batch('read column lengths', (api) => {
        for (const table of ['opportunity', 'account', 'contact', 'lead']) {
          api.retrieveAttributes({
            entityKey: `LogicalName='${table}'`,
            select: ['LogicalName', 'MaxLength'],
          });
        }
      })) as Rows[];
      const [opportunity, account, contact, lead] = results.map(
        (r) => new Map((r.value ?? []).map((a) => [String(a.LogicalName), Number(a.MaxLength) || undefined])),
      ) as [
        Map<string, number | undefined>,
        Map<string, number | undefined>,
        Map<string, number | undefined>,
        Map<string, number | undefined>,
      ];
      const markRoom = e.displayCheckMark ? 1 + STATUS_MARKS.ok.length : 0;
      const contactLimits = {
        firstName: contact.get('firstname'),
        lastName: contact.get('lastname'),
        email: contact.get('emailaddress1'),
        phone: contact.get('telephone1'),
      };
      const addressOf = (m: Map<string, number | undefined>, name: string) => ({
        name: m.get(name),
        street: m.get('address1_line1'),
        city: m.get('address1_city'),
        state: m.get('address1_stateorprovince'),
        postalCode: m.get('address1_postalcode'),
      });
      this.limits = {
        opportunity: {
          deal: {
            name: (opportunity.get('name') ?? DEFAULT_LENGTHS.opportunityName) - markRoom,
            notes: opportunity.get('description'),
          },
          contact: contactLimits,
          account: addressOf(account, 'name'),
        },
        lead: {
          deal: { name: lead.get('subject'), notes: lead.get('description') },
          contact: {
            firstName: lead.get('firstname'),
            lastName: lead.get('lastname'),
            email: lead.get('emailaddress1'),
            phone: lead.get('telephone1'),
          },
          account: addressOf(lead, 'companyname'),
        },
      };
    }
    return this.limits[kind];
  }

  // ---- reading ---------------------------------------------------------------------------------------------

  async findDeal(ref: DealRef): Promise<Deal | null> {
    const e = await this.effective();
    const key = 'id' in ref ? ref.id : keyOf(e.names.columns.referralId, ref.referralId);
    if ('id' in ref && !/^[0-9a-f-]{36}$/i.test(ref.id)) return null;
    const record = 'id' in ref ? ref.id : ref.referralId;
    if (ref.kind === 'lead') {
      const row = await this.retrieveOrNull(
        'find lead',
        ENTITY_SETS.lead,
        key,
        { select: leadColumns(e) },
        record,
      );
      return row ? leadToDeal(row, e) : null;
    }
    const row = await this.retrieveOrNull(
      'find deal',
      ENTITY_SETS.opportunity,
      key,
      {
        select: opportunityColumns(e),
        // The whole deal in one read: account, contacts (the primary one and each connection's) and catalogue
        // solutions through nested $expand on the collection-valued connections and solution rows.
        expand: [
          { property: 'parentaccountid', select: accountColumns(e) },
          { property: 'parentcontactid', select: contactColumns() },
          {
            property: 'opportunity_connections1',
            select: ['_record2id_value'],
            expand: [{ property: 'record2id_contact', select: contactColumns() }],
          },
          {
            property: e.names.junction.relationship,
            select: [`_${e.names.junction.solution}_value`],
            expand: [{ property: e.names.junction.solutionNavigation, select: catalogueColumns(e) }],
          },
        ],
      },
      record,
    );
    return row ? this.toDeal(row, e) : null;
  }

  private async retrieveOrNull(
    operation: string,
    collection: string,
    key: string,
    request: { select: string[]; expand?: Expand[] },
    record: string,
  ): Promise<Row | null> {
    try {
      return await this.client.run(
        operation,
        (api) => api.retrieve<Row>({ collection, key, ...request }),
        record,
      );
    } catch (error) {
      if (error instanceof CrmError && error.status === 404) return null;
      throw error;
    }
  }

  /** An opportunity read with its account, contacts and catalogue solutions expanded (findDeal). */
  private async toDeal(row: Row, e: Effective): Promise<Deal> {
    const connections = (row.opportunity_connections1 as Row[] | undefined) ?? [];
    const junction = (row[e.names.junction.relationship] as Row[] | undefined) ?? [];
    // The primary contact first, then each connected one once (a contact may be both).
    const contacts = uniqueBy(
      [row.parentcontactid, ...connections.map((c) => c.record2id_contact)].filter(isRow),
      (c) => guid(String(c.contactid)),
    );
    const solutions = uniqueBy(
      junction.map((j) => j[e.names.junction.solutionNavigation]).filter(isRow),
      (c) => String(c[e.names.catalogue.id]),
    );
    const currencyId =
      typeof row._transactioncurrencyid_value === 'string' ? guid(row._transactioncurrencyid_value) : '';
    const currencies = currencyId ? await this.currencyTable() : undefined;
    return opportunityToDeal(
      row,
      {
        account: (row.parentaccountid as Row | null | undefined) ?? null,
        contacts,
        solutions,
        currencyCode: currencies?.codeById.get(currencyId) ?? null,
        ...(e.accountCountryLookup ? { lookupCodes: (await this.countryTable(e)).byId } : {}),
      },
      e,
    );
  }

  /** The lookup-based country table (code column by id), read once per adapter. */
  private async countryTable(
    e: Effective,
  ): Promise<{ byId: Map<string, string>; byCode: Map<string, string> }> {
    if (this.countryCodes) return this.countryCodes;
    const lookup = e.accountCountryLookup!;
    const all = await this.client.run('read countries', (api) =>
      api.retrieveAll<Row>({ collection: lookup.entitySet, select: [lookup.codeColumn] }),
    );
    const byId = new Map<string, string>();
    const byCode = new Map<string, string>();
    const idColumn = Object.keys(all.value[0] ?? {}).find(
      (k) => k.endsWith('id') && !k.startsWith('@') && k !== lookup.codeColumn,
    );
    for (const row of all.value) {
      const id = idColumn ? String(row[idColumn]).toLowerCase() : '';
      const code = String(row[lookup.codeColumn] ?? '').toUpperCase();
      if (id && code) {
        byId.set(id, code);
        byCode.set(code, id);
      }
    }
    this.countryCodes = { byId, byCode };
    return this.countryCodes;
  }

  // ---- writing ---------------------------------------------------------------------------------------------

  async createDeal(input: NewDeal, sync: SyncWrite = {}): Promise<CreateDealResult> {
    if (input.kind === 'lead') return this.createLead(input, sync, await this.effective());
    return createThrough(this.creates, (items) => this.createDeals(items), { input, sync });
  }

  /**
   * From now on, opportunity creates that arrive within `lingerMs` of each other share one `$batch` of look-ups
   * (three requests for the lot instead of three each, against the service protection limits); each record's
   * writes stay one change set of its own. Batches run one after another, and two creates touching the same
   * referral, account or contact never share one, so a batch never creates what the one before it did.
   */
  batchCreates(options: { lingerMs: number }): void {
    this.creates = createBatcher((items) => this.createDeals(items), {
      maxItems: CREATE_BATCH_MAX,
      lingerMs: options.lingerMs,
    });
  }

  /** Creates opportunities: one `$batch` of look-ups for all, then each record's change set. */
  private async createDeals(items: CreateItem[]): Promise<(CreateDealResult | Error)[]> {
    const e = await this.effective();
    const c = e.names.columns;
    const accounts = items.map(({ input }) =>
      input.account && !input.account.id ? input.account : undefined,
    );
    const emails = unique(
      items.flatMap(({ input }) =>
        (input.contacts ?? []).map((x) => x.email).filter((x): x is string => Boolean(x)),
      ),
    );
    const solutionIds = unique(items.flatMap(({ input }) => (input.solutions ?? []).map((s) => s.id)));
    const referralIds = items.map(({ input }) => input.referralId);
    const accountFilters = unique(
      accounts.filter((a): a is AccountInput => a !== undefined).map((a) => this.accountFilter(a, e)),
    );

    // One call of look-ups. The existing-deal check makes a retried create a no-op; the upsert with
    // If-None-Match still guarantees one opportunity if two creates race past it.
    const lookups = await this.lookups(
      'create deal (look-ups)',
      e,
      {
        existing: orEq(c.referralId, referralIds, true),
        ...(accountFilters.length
          ? {
              account:
                accountFilters.length === 1
                  ? accountFilters[0]!
                  : accountFilters.map((f) => `(${f})`).join(' or '),
            }
          : {}),
        ...(emails.length ? { emails } : {}),
        ...(solutionIds.length ? { solutionIds } : {}),
        per: items.length,
      },
      items.length === 1 ? items[0]!.input.referralId : `${items.length} referrals`,
    );

    return Promise.all(
      items.map(async ({ input, sync }, index): Promise<CreateDealResult | Error> => {
        try {
          const existing = (lookups.existing ?? []).find(
            (row) => String(row[c.referralId] ?? '').toLowerCase() === input.referralId.toLowerCase(),
          );
          if (existing) {
            return {
              id: String(existing.opportunityid),
              kind: 'opportunity',
              created: false,
              ...(typeof existing._parentaccountid_value === 'string'
                ? { accountId: existing._parentaccountid_value }
                : {}),
              contactIds: [],
            };
          }
          const account = accounts[index];
          const candidates = account
            ? (lookups.account ?? []).filter((row) => matchesAccount(row, account, e))
            : [];
          return await this.createOne(input, sync, e, { ...lookups, account: candidates });
        } catch (error) {
          return error as Error;
        }
      }),
    );
  }

  /** One opportunity's change set: its account and contacts unless they exist, the upsert, connections, solutions. */
  private async createOne(
    input: NewDeal,
    sync: SyncWrite,
    e: Effective,
    lookups: { account?: Row[]; contacts?: Row[]; catalogue?: Row[] },
  ): Promise<CreateDealResult> {
    const c = e.names.columns;
    const contacts = input.contacts ?? [];
    const solutions = input.solutions ?? [];
    const matchAccount = input.account && !input.account.id ? input.account : undefined;
    const referralKey = keyOf(c.referralId, input.referralId);
    const currencies = await this.currencyTable();
    const matched = matchAccount ? this.pickAccount(lookups.account ?? [], matchAccount, e) : null;
    const accountId = input.account?.id ?? matched ?? undefined;
    const plan = new ChangeSet();
    let accountRef = accountId ? `/accounts(${accountId})` : undefined;
    const accountCreated = !accountId && Boolean(input.account);
    if (!accountId && input.account) {
      accountRef = plan.add((api, id) =>
        api.create({
          collection: ENTITY_SETS.account,
          data: this.accountRow(input.account!, e),
          contentId: id,
        }),
      );
    }
    const contactRefs = this.planContacts(plan, contacts, lookups.contacts ?? [], accountRef);
    const solutionRefs = this.planCatalogue(plan, solutions, lookups.catalogue ?? [], e);
    const body: Row = {
      ...input.extraFields,
      name: storedName(input.fields.name, sync.mark, e, await this.nameMax()),
      ...dealFieldsToOpportunity(
        { ...input.fields, syncWithPartnerCenter: input.fields.syncWithPartnerCenter ?? true },
        e,
      ),
      ...this.syncColumns(sync, null, e),
      ...this.currencyBind(input.fields.currency, currencies),
    };
    if (accountRef) {
      body['parentaccountid@odata.bind'] = accountRef;
      body['customerid_account@odata.bind'] = accountRef;
    }
    if (contactRefs[0]) body['parentcontactid@odata.bind'] = contactRefs[0];
    if (input.ownerId) body['ownerid@odata.bind'] = `/systemusers(${input.ownerId})`;
    const dealRef = plan.add((api, id) =>
      api.upsert({
        collection: ENTITY_SETS.opportunity,
        key: referralKey,
        data: body,
        ifnonematch: '*',
        contentId: id,
      }),
    );
    this.planRelated(plan, dealRef, contactRefs, solutionRefs, e);
    let results: unknown[];
    try {
      results = await plan.run(this.client, 'create deal', input.referralId);
    } catch (error) {
      if (error instanceof CrmError && error.status === 412) {
        const raced = await this.findDeal({ kind: 'opportunity', referralId: input.referralId });
        if (raced) return { id: raced.id, kind: 'opportunity', created: false, contactIds: [] };
      }
      throw error;
    }
    const idAt = (ref: string | undefined) =>
      ref?.startsWith('$') ? plan.resultOf(ref, results) : ref?.replace(/^\/\w+\((.*)\)$/, '$1');
    const dealId = idAt(dealRef);
    if (!dealId) throw unexpected('create deal', 'the opportunity upsert returned no id', input.referralId);
    return {
      id: dealId,
      kind: 'opportunity',
      created: true,
      ...(accountRef ? { accountId: idAt(accountRef) } : {}),
      accountCreated,
      contactIds: contactRefs.map((ref) => idAt(ref) ?? ''),
    };
  }

  private async createLead(input: NewDeal, sync: SyncWrite, e: Effective): Promise<CreateDealResult> {
    const c = e.names.columns;
    const contact = input.contacts?.[0];
    const address = input.account?.address ?? {};
    const body: Row = {
      ...input.extraFields,
      subject: input.fields.name.slice(0, DEFAULT_LENGTHS.leadSubject),
      [c.syncFlag]: input.fields.syncWithPartnerCenter ?? true,
      ...this.syncColumns(sync, null, e),
    };
    if (input.account?.name) body.companyname = input.account.name.slice(0, 100);
    body.lastname = contact?.lastName ?? input.account?.name ?? input.fields.name;
    if (contact?.firstName) body.firstname = contact.firstName;
    if (contact?.email) body.emailaddress1 = contact.email;
    if (contact?.phone) body.telephone1 = contact.phone;
    if (address.street) body.address1_line1 = address.street;
    if (address.city) body.address1_city = address.city;
    if (address.state) body.address1_stateorprovince = address.state;
    if (address.postalCode) body.address1_postalcode = address.postalCode;
    if (address.country) body.address1_country = address.country;
    if (input.fields.notes) body.description = input.fields.notes;
    if (input.fields.value !== undefined && input.fields.value !== null)
      body.estimatedamount = input.fields.value;
    if (input.fields.closeDate) body.estimatedclosedate = input.fields.closeDate;
    if (input.ownerId) body['ownerid@odata.bind'] = `/systemusers(${input.ownerId})`;
    const key = keyOf(c.referralId, input.referralId);
    try {
      const id = await this.client.run(
        'create lead',
        (api) => api.upsert<Row, string>({ collection: ENTITY_SETS.lead, key, data: body, ifnonematch: '*' }),
        input.referralId,
      );
      return { id: String(id), kind: 'lead', created: true, contactIds: [] };
    } catch (error) {
      if (!(error instanceof CrmError) || error.status !== 412) throw error;
      const existing = await this.findDeal({ kind: 'lead', referralId: input.referralId });
      if (!existing) throw error;
      return { id: existing.id, kind: 'lead', created: false, contactIds: [] };
    }
  }

  async updateDeal(current: Deal, patch: DealPatch, sync: SyncWrite = {}): Promise<void> {
    const plan = await this.planUpdate(current, patch, sync);
    if (plan.size === 1 && plan.single) await this.client.run('update deal', plan.single, current.id);
    else if (plan.size > 0) await plan.run(this.client, 'update deal', current.id);
    if (current.kind === 'opportunity' && patch.removeContacts?.length) {
      await this.unlinkContacts(current, patch.removeContacts);
    }
  }

  /** Unlinks contacts from an opportunity: their connections go, the primary contact lookup is cleared; the
   *  contacts stay. Runs after the change set (a removal repeated after a failure finds nothing to do). */
  private async unlinkContacts(current: Deal, emails: readonly string[]): Promise<void> {
    const ids = new Set(
      current.contacts
        .filter((c) => c.id && emails.some((e) => sameEmail(e, c.email)))
        .map((c) => guid(c.id as string)),
    );
    if (ids.size === 0) return;
    const row = (await this.client.run(
      'unlink contacts (look-up)',
      (api) =>
        api.retrieve({
          collection: ENTITY_SETS.opportunity,
          key: current.id,
          select: ['_parentcontactid_value'],
          expand: [{ property: 'opportunity_connections1', select: ['connectionid', '_record2id_value'] }],
        }),
      current.id,
    )) as Row;
    for (const connection of (row.opportunity_connections1 as Row[] | undefined) ?? []) {
      if (!ids.has(guid(String(connection._record2id_value)))) continue;
      await this.client.run(
        'unlink contact',
        (api) =>
          api.deleteRecord({ collection: ENTITY_SETS.connection, key: String(connection.connectionid) }),
        current.id,
      );
    }
    const primary = row._parentcontactid_value;
    if (typeof primary === 'string' && ids.has(guid(primary))) {
      await this.client.run(
        'unlink contact',
        (api) =>
          api.disassociateSingleValued({
            collection: ENTITY_SETS.opportunity,
            primaryKey: current.id,
            navigationProperty: 'parentcontactid',
          }),
        current.id,
      );
    }
  }

  async closeDeal(
    current: Deal,
    outcome: 'won' | 'lost',
    patch: DealPatch = {},
    sync: SyncWrite = {},
  ): Promise<void> {
    if (current.kind === 'lead') {
      throw new CrmError({
        crm: 'dynamics',
        operation: 'close deal',
        record: current.id,
        message: 'A lead cannot be closed won or lost; qualify it to an opportunity first.',
        fix: 'Qualify the lead in Dynamics 365; cosell relinks the referral to the new opportunity.',
      });
    }
    if (current.isClosed) return;
    const plan = await this.planUpdate(
      current,
      { ...patch, fields: { ...patch.fields, stage: undefined } },
      sync,
    );
    const won = outcome === 'won';
    const value = patch.fields?.value ?? current.value;
    plan.add((api) =>
      api.callAction({
        actionName: won ? 'WinOpportunity' : 'LoseOpportunity',
        action: {
          Status: won ? this.settings.wonStatus : this.settings.lostStatus,
          OpportunityClose: {
            subject: `${won ? 'Won' : 'Lost'}: ${current.name}`.slice(0, 200),
            'opportunityid@odata.bind': `/opportunities(${current.id})`,
            ...(typeof value === 'number' ? { actualrevenue: value } : {}),
          },
        },
      }),
    );
    await plan.run(this.client, `close deal ${outcome}`, current.id);
  }

  /** The writes of an update as one change set: deal PATCH, new contacts and connections, solution rows. */
  private async planUpdate(current: Deal, patch: DealPatch, sync: SyncWrite): Promise<ChangeSet> {
    const e = await this.effective();
    const set = current.kind === 'lead' ? ENTITY_SETS.lead : ENTITY_SETS.opportunity;
    const fields = patch.fields ?? {};
    const body: Row =
      current.kind === 'opportunity'
        ? {
            ...dealFieldsToOpportunity(fields, e),
            ...(fields.currency !== undefined && fields.currency !== current.currency
              ? this.currencyBind(fields.currency, await this.currencyTable())
              : {}),
          }
        : this.leadColumns(fields, e);
    Object.assign(body, this.syncColumns(sync, current, e));
    const nameChanged = fields.name !== undefined && fields.name !== current.name;
    const markChanged =
      current.kind === 'opportunity' &&
      sync.mark !== undefined &&
      e.displayCheckMark &&
      (sync.mark ?? null) !== (current.mark ?? null);
    if (nameChanged || markChanged) {
      const name = fields.name ?? current.name;
      if (current.kind === 'lead') body.subject = name.slice(0, DEFAULT_LENGTHS.leadSubject);
      else
        body.name = storedName(
          name,
          sync.mark !== undefined ? sync.mark : current.mark,
          e,
          await this.nameMax(),
        );
    }
    const plan = new ChangeSet();
    if (Object.keys(body).length) {
      plan.single = (api: DynamicsWebApi) => api.update({ collection: set, key: current.id, data: body });
      plan.add((api, id) => api.update({ collection: set, key: current.id, data: body, contentId: id }));
    }
    if (current.kind === 'lead') return plan;
    const addContacts = (patch.addContacts ?? []).filter(
      (x) => !current.contacts.some((y) => sameEmail(y.email, x.email)),
    );
    const known = new Set(current.solutions.map((s) => s.id));
    const addSolutions = (patch.addSolutions ?? []).filter((s) => !known.has(s.id));
    const removeIds = (patch.removeSolutions ?? []).filter((id) => known.has(id));
    if (!addContacts.length && !addSolutions.length && !removeIds.length) return plan;
    const emails = addContacts.map((x) => x.email).filter((x): x is string => Boolean(x));
    const lookups = await this.lookups(
      'update deal (look-ups)',
      e,
      {
        ...(emails.length ? { emails } : {}),
        ...(addSolutions.length ? { solutionIds: addSolutions.map((s) => s.id) } : {}),
        ...(removeIds.length ? { junctionOf: current.id } : {}),
      },
      current.id,
    );
    const accountRef = current.account?.id ? `/accounts(${current.account.id})` : undefined;
    const contactRefs = this.planContacts(plan, addContacts, lookups.contacts ?? [], accountRef);
    const solutionRefs = this.planCatalogue(plan, addSolutions, lookups.catalogue ?? [], e);
    if (current.contacts.length === 0 && contactRefs[0] && plan.size > 0) {
      plan.add((api, id) =>
        api.update({
          collection: ENTITY_SETS.opportunity,
          key: current.id,
          data: { 'parentcontactid@odata.bind': contactRefs[0] },
          contentId: id,
        }),
      );
    }
    this.planRelated(plan, `/opportunities(${current.id})`, contactRefs, solutionRefs, e);
    const removeCatalogueIds = new Set(
      current.solutions
        .filter((s) => removeIds.includes(s.id))
        .map((s) => s.crmId)
        .filter(Boolean),
    );
    for (const row of lookups.junction ?? []) {
      if (!removeCatalogueIds.has(String(row[`_${e.names.junction.solution}_value`]))) continue;
      plan.add((api, id) =>
        api.deleteRecord({
          collection: e.names.junction.entitySet,
          key: String(row[e.names.junction.id]),
          contentId: id,
        }),
      );
    }
    plan.single = undefined;
    return plan;
  }

  async findUserByEmail(email: string): Promise<string | null> {
    return this.users.get(email, async () => {
      const found = await this.client.run('find user by e-mail', (api) =>
        api.retrieveMultiple<Row>({
          collection: ENTITY_SETS.systemuser,
          select: ['systemuserid'],
          filter: `internalemailaddress eq '${email.replace(/'/g, "''")}' and isdisabled eq false`,
          top: 1,
        }),
      );
      const row = found.value[0];
      return row ? String(row.systemuserid) : null;
    });
  }

  recordUrl(ref: { kind: DealKind; id: string }): string {
    const table = ref.kind === 'lead' ? 'lead' : 'opportunity';
    return `${this.client.url.replace(/\/$/, '')}/main.aspx?pagetype=entityrecord&etn=${table}&id=${encodeURIComponent(ref.id)}`;
  }

  async probe(): Promise<void> {
    await this.client.run('probe', (api) => api.callFunction({ functionName: 'WhoAmI' }));
  }

  apiCallCount(): number {
    return this.client.apiCalls;
  }

  // ---- change feed -----------------------------------------------------------------------------------------

  async listChangedDeals(cursor: string | null, options: ChangeFeedOptions = {}): Promise<ChangeFeedPage> {
    const e = await this.effective();
    const now = options.now ?? new Date();
    const state = parseCursor(cursor);
    const c = e.names.columns;
    const tables: Record<FeedTable, { set: string; select: string[] }> = {
      opportunities: {
        set: ENTITY_SETS.opportunity,
        select: ['opportunityid', 'modifiedon', c.syncFlag, c.referralId],
      },
      leads: { set: ENTITY_SETS.lead, select: ['leadid', 'modifiedon', c.syncFlag, c.referralId] },
      accounts: { set: ENTITY_SETS.account, select: ['accountid', 'modifiedon'] },
      connections: {
        set: ENTITY_SETS.connection,
        select: ['connectionid', 'modifiedon', '_record1id_value'],
      },
      solutions: {
        set: e.names.junction.entitySet,
        select: [e.names.junction.id, 'modifiedon', `_${e.names.junction.deal}_value`],
      },
    };
    const wanted = (Object.keys(tables) as FeedTable[]).filter(
      (t) => t !== 'leads' || !e.syncCoSellOpportunitiesOnly,
    );
    const lookback = options.initialLookbackMs ?? this.settings.changeFeed.initialLookbackMs;
    const since = state ? Date.parse(state.at) - (options.overlapMs ?? 0) : now.getTime() - lookback;
    const next: Cursor = { v: 1, at: now.toISOString(), links: {} };
    const reads =
      (await this.deltaBatch(wanted, state)) ?? (await this.readFeedTables(wanted, state, tables));
    const changes = new Map<string, DealChange>();
    const add = (change: DealChange) => {
      const previous = changes.get(change.id);
      if (!previous) {
        changes.set(change.id, change);
        return;
      }
      const kept = previous.reason !== 'deal' && change.reason === 'deal' ? change : previous;
      // The newest row version of everything that changed for this deal, so a related edit is never hidden
      // behind an older change of the deal itself: a hint is skipped when the last sync read exactly its version.
      const newer = newestOf(previous, change);
      changes.set(change.id, {
        ...kept,
        ...(newer.version ? { version: newer.version } : {}),
        ...(newer.modifiedAt ? { modifiedAt: newer.modifiedAt } : {}),
      });
    };
    const relatedDeals = new Map<string, { reason: DealChange['reason']; at?: string; version?: string }>();
    const changedAccounts = new Map<string, { at?: string; version?: string }>();
    const inWindow = (row: Row, full: boolean) => !full || Date.parse(String(row.modifiedon ?? '')) >= since;
    for (const { table, rows, link, full } of reads) {
      if (link) next.links[table] = link;
      for (const row of rows) {
        const deleted =
          typeof row['@odata.context'] === 'string' &&
          String(row['@odata.context']).includes('$deletedEntity');
        const modifiedAt = typeof row.modifiedon === 'string' ? row.modifiedon : undefined;
        const version = versionOf(row) ?? undefined;
        const stamp = { ...(modifiedAt ? { modifiedAt } : {}), ...(version ? { version } : {}) };
        if (table === 'opportunities' || table === 'leads') {
          const kind: DealKind = table === 'leads' ? 'lead' : 'opportunity';
          if (deleted) {
            if (!full) add({ kind, id: String(row.id), reason: 'deal', deleted: true });
            continue;
          }
          const synced = row[c.syncFlag] === true || Boolean(row[c.referralId]);
          if (!synced || !inWindow(row, full)) continue;
          add({
            kind,
            id: String(row[kind === 'lead' ? 'leadid' : 'opportunityid']),
            reason: 'deal',
            ...stamp,
          });
          continue;
        }
        if (deleted || !inWindow(row, full) || full) continue;
        if (table === 'accounts') {
          changedAccounts.set(guid(String(row.accountid)), {
            ...(modifiedAt ? { at: modifiedAt } : {}),
            ...(version ? { version } : {}),
          });
        }
        const dealId =
          table === 'connections'
            ? row._record1id_value
            : table === 'solutions'
              ? row[`_${e.names.junction.deal}_value`]
              : undefined;
        if (typeof dealId === 'string') {
          relatedDeals.set(
            guid(dealId),
            newestOf(relatedDeals.get(guid(dealId)), {
              reason: table === 'connections' ? 'contact' : 'solution',
              ...(modifiedAt ? { at: modifiedAt } : {}),
              ...(version ? { version } : {}),
            }),
          );
        }
      }
    }
    if (relatedDeals.size || changedAccounts.size) {
      for (const row of await this.syncedDealsAmong(
        [...relatedDeals.keys()],
        [...changedAccounts.keys()],
        e,
      )) {
        const id = guid(String(row.opportunityid));
        const related = relatedDeals.get(id);
        const account =
          typeof row._parentaccountid_value === 'string'
            ? changedAccounts.get(guid(row._parentaccountid_value))
            : undefined;
        // The newest of the deal's related changes: an older role or solution row must not hide a newer edit of
        // the account.
        const stamp = newestOf<{ at?: string; version?: string }>(related, account);
        const at = stamp?.at ?? (typeof row.modifiedon === 'string' ? row.modifiedon : undefined);
        const version = stamp?.version;
        add({
          kind: 'opportunity',
          id: String(row.opportunityid),
          reason: related?.reason ?? 'account',
          ...(at ? { modifiedAt: at } : {}),
          ...(version ? { version } : {}),
        });
      }
    }
    // Delta links never list a change twice: everything before this poll is behind the cursor for good.
    return { changes: [...changes.values()], cursor: JSON.stringify(next), relistsAfter: next.at };
  }

  /** Steady state: every table's delta link in one `$batch` of GETs (one call per poll). Undefined when a
   *  table has no link yet or a token expired: the tables are then read one by one. */
  private async deltaBatch(
    wanted: FeedTable[],
    state: Cursor | null,
  ): Promise<{ table: FeedTable; rows: Row[]; link: string | undefined; full: boolean }[] | undefined> {
    const links = wanted.map((table) => state?.links[table]);
    if (!links.every((link): link is string => Boolean(link))) return undefined;
    try {
      const pages = (await this.client.batch('list changed deals', (api) => {
        wanted.forEach((table, i) => {
          api.retrieveMultiple({ collection: table }, links[i]);
        });
      })) as Rows[];
      return wanted.map((table, i) => ({
        table,
        rows: pages[i]?.value ?? [],
        link: pages[i]?.oDataDeltaLink,
        full: false,
      }));
    } catch (error) {
      if (isExpiredChangeToken(error)) return undefined;
      throw error;
    }
  }

  /** One read per table: its delta link, or (first poll, expired token) a full read that returns a fresh
   *  delta link, where only rows modified in the window count as changes. */
  private readFeedTables(
    wanted: FeedTable[],
    state: Cursor | null,
    tables: Record<FeedTable, { set: string; select: string[] }>,
  ): Promise<{ table: FeedTable; rows: Row[]; link: string | undefined; full: boolean }[]> {
    return Promise.all(
      wanted.map(async (table) => {
        const link = state?.links[table];
        const { set, select } = tables[table];
        if (link) {
          try {
            const page = await this.client.run('list changed deals', (api) =>
              api.retrieveMultiple<Row>({ collection: set }, link),
            );
            return { table, rows: page.value ?? [], link: page.oDataDeltaLink, full: false };
          } catch (error) {
            if (!isExpiredChangeToken(error)) throw error;
          }
        }
        const all = await this.client.run('list changed deals (full read)', (api) =>
          api.retrieveAll<Row>({ collection: set, select, trackChanges: true, maxPageSize: 5000 }),
        );
        return { table, rows: all.value, link: all.oDataDeltaLink, full: true };
      }),
    );
  }

  private async syncedDealsAmong(dealIds: string[], accountIds: string[], e: Effective): Promise<Row[]> {
    const c = e.names.columns;
    const synced = `(${c.syncFlag} eq true or ${c.referralId} ne null)`;
    const out: Row[] = [];
    const total = Math.max(
      Math.ceil(dealIds.length / FILTER_CHUNK),
      Math.ceil(accountIds.length / FILTER_CHUNK),
    );
    for (let i = 0; i < total; i++) {
      const deals = dealIds.slice(i * FILTER_CHUNK, (i + 1) * FILTER_CHUNK);
      const accounts = accountIds.slice(i * FILTER_CHUNK, (i + 1) * FILTER_CHUNK);
      const related = [
        deals.length ? orEq('opportunityid', deals) : '',
        accounts.length ? orEq('_parentaccountid_value', accounts) : '',
      ]
        .filter(Boolean)
        .join(' or ');
      const page = await this.client.run('list changed deals (related)', (api) =>
        api.retrieveAll<Row>({
          collection: ENTITY_SETS.opportunity,
          select: ['opportunityid', 'modifiedon', '_parentaccountid_value'],
          filter: `(${related}) and ${synced}`,
        }),
      );
      out.push(...page.value);
    }
    return out;
  }

  async describeSchema(): Promise<SchemaReport> {
    return checkSolutionSchema(this.client, this.settings);
  }

  // ---- helpers ---------------------------------------------------------------------------------------------

  private async nameMax(): Promise<number> {
    const limits = await this.fieldLimits('opportunity');
    const e = await this.effective();
    return (
      (limits.deal.name ?? DEFAULT_LENGTHS.opportunityName) +
      (e.displayCheckMark ? 1 + STATUS_MARKS.ok.length : 0)
    );
  }

  private accountRow(account: AccountInput, e: Effective): Row {
    const row = accountToRow(account, e);
    const code = account.address?.country;
    if (code && e.accountCountryLookup && this.countryCodes) {
      const id = this.countryCodes.byCode.get(code.toUpperCase());
      if (id)
        row[`${e.accountCountryLookup.navigation}@odata.bind`] =
          `/${e.accountCountryLookup.entitySet}(${id})`;
    }
    return row;
  }

  private accountFilter(account: AccountInput, e: Effective): string {
    if (account.duns && e.accountDunsField) return `${e.accountDunsField} eq ${quote(account.duns)}`;
    const postal = account.address?.postalCode;
    return `name eq ${quote(account.name)}${postal ? ` and address1_postalcode eq ${quote(postal)}` : ''}`;
  }

  /** R5: DUNS when known, else name + postal code; the oldest match wins so repeated syncs pick the same one. */
  private pickAccount(rows: Row[], account: AccountInput, e: Effective): string | null {
    const match = rows.find((row) => {
      const found = accountFromRow(row, e);
      if (!found) return false;
      if (account.duns && e.accountDunsField) return found.duns === account.duns;
      return found.name.toLowerCase() === account.name.toLowerCase();
    });
    return match ? String(match.accountid) : null;
  }

  private async lookups(
    operation: string,
    e: Effective,
    q: {
      existing?: string;
      account?: string;
      emails?: string[];
      solutionIds?: string[];
      junctionOf?: string;
      /** How many records the look-ups are for (a batch of creates): more rows each. */
      per?: number;
    },
    record: string,
  ): Promise<{ existing?: Row[]; account?: Row[]; contacts?: Row[]; catalogue?: Row[]; junction?: Row[] }> {
    const per = q.per ?? 1;
    const order: (keyof typeof q)[] = [];
    if (e.accountCountryLookup && q.account) await this.countryTable(e);
    const results = (await this.client.batch(
      operation,
      (api) => {
        if (q.existing) {
          order.push('existing');
          api.retrieveMultiple({
            collection: ENTITY_SETS.opportunity,
            select: ['opportunityid', '_parentaccountid_value', e.names.columns.referralId],
            filter: q.existing,
            top: 2 * per,
          });
        }
        if (q.account) {
          order.push('account');
          api.retrieveMultiple({
            collection: ENTITY_SETS.account,
            select: accountColumns(e),
            filter: q.account,
            orderBy: ['createdon'],
            top: 5 * per,
          });
        }
        if (q.emails?.length) {
          order.push('emails');
          api.retrieveMultiple({
            collection: ENTITY_SETS.contact,
            select: [...contactColumns(), '_parentcustomerid_value'],
            filter: orEq('emailaddress1', q.emails, true),
          });
        }
        if (q.solutionIds?.length) {
          order.push('solutionIds');
          api.retrieveMultiple({
            collection: e.names.catalogue.entitySet,
            select: catalogueColumns(e),
            filter: orEq(e.names.catalogue.solutionId, q.solutionIds, true),
          });
        }
        if (q.junctionOf) {
          order.push('junctionOf');
          api.retrieveMultiple({
            collection: e.names.junction.entitySet,
            select: [e.names.junction.id, `_${e.names.junction.solution}_value`],
            filter: `_${e.names.junction.deal}_value eq ${q.junctionOf}`,
          });
        }
      },
      record,
    )) as Rows[];
    const out: { existing?: Row[]; account?: Row[]; contacts?: Row[]; catalogue?: Row[]; junction?: Row[] } =
      {};
    order.forEach((name, i) => {
      const value = results[i]?.value ?? [];
      if (name === 'existing') out.existing = value;
      else if (name === 'account') out.account = value;
      else if (name === 'emails') out.contacts = value;
      else if (name === 'solutionIds') out.catalogue = value;
      else if (name === 'junctionOf') out.junction = value;
    });
    return out;
  }

  /** Existing contacts (by email) or new ones; returns a bind reference per contact. */
  private planContacts(
    plan: ChangeSet,
    contacts: ContactInput[],
    existing: Row[],
    accountRef: string | undefined,
  ): string[] {
    return contacts.map((contact) => {
      const match = existing.find((row) => sameEmail(String(row.emailaddress1 ?? ''), contact.email));
      if (match) return `/contacts(${match.contactid})`;
      const accountId =
        accountRef && !accountRef.startsWith('$')
          ? accountRef.replace(/^\/accounts\((.*)\)$/, '$1')
          : undefined;
      const data = contactToRow(contact, accountId);
      if (accountRef?.startsWith('$')) data['parentcustomerid_account@odata.bind'] = accountRef;
      return plan.add((api, id) => api.create({ collection: ENTITY_SETS.contact, data, contentId: id }));
    });
  }

  /** Catalogue rows for the solutions: existing ones by Partner Center id; the rest upserted by the catalogue's
   *  alternate key, so two deals bringing the same new solution at once never clash on it. */
  async importSolutions(solutions: readonly SolutionRef[]): Promise<SolutionImportResult> {
    const counts: SolutionImportResult = { created: 0, updated: 0, unchanged: 0 };
    if (solutions.length === 0) return counts;
    const e = await this.effective();
    const cat = e.names.catalogue;
    const { catalogue = [] } = await this.lookups(
      'import solutions (look-up)',
      e,
      { solutionIds: solutions.map((x) => x.id) },
      cat.entitySet,
    );
    const byId = new Map(catalogue.map((row) => [String(row[cat.solutionId]).toLowerCase(), row]));
    const plan = new ChangeSet();
    for (const solution of solutions) {
      const name = (solution.name ?? solution.id).slice(0, 200);
      const row = byId.get(solution.id.toLowerCase());
      if (row && String(row[cat.name] ?? '') === name) {
        counts.unchanged++;
        continue;
      }
      if (row) counts.updated++;
      else counts.created++;
      plan.add((api, id) =>
        api.upsert({
          collection: cat.entitySet,
          key: keyOf(cat.solutionId, solution.id),
          data: { [cat.name]: name, [cat.active]: true },
          contentId: id,
        }),
      );
    }
    if (plan.size > 0) await plan.run(this.client, 'import solutions', cat.entitySet);
    return counts;
  }

  private planCatalogue(plan: ChangeSet, solutions: SolutionRef[], existing: Row[], e: Effective): string[] {
    const cat = e.names.catalogue;
    return solutions.map((solution) => {
      const match = existing.find(
        (row) => String(row[cat.solutionId]).toLowerCase() === solution.id.toLowerCase(),
      );
      if (match) return `/${cat.entitySet}(${match[cat.id]})`;
      return plan.add((api, id) =>
        api.upsert({
          collection: cat.entitySet,
          key: keyOf(cat.solutionId, solution.id),
          data: { [cat.name]: (solution.name ?? solution.id).slice(0, 200), [cat.active]: true },
          contentId: id,
        }),
      );
    });
  }

  /** Solution rows and contact connections of a deal. */
  private planRelated(
    plan: ChangeSet,
    dealRef: string,
    contactRefs: string[],
    solutionRefs: string[],
    e: Effective,
  ): void {
    const j = e.names.junction;
    for (const ref of solutionRefs) {
      plan.add((api, id) =>
        api.create({
          collection: j.entitySet,
          data: {
            [j.name]: 'Partner Center solution',
            [`${j.dealNavigation}@odata.bind`]: dealRef,
            [`${j.solutionNavigation}@odata.bind`]: ref,
          },
          contentId: id,
        }),
      );
    }
    for (const ref of contactRefs) {
      plan.add((api, id) =>
        api.create({
          collection: ENTITY_SETS.connection,
          data: { 'record1id_opportunity@odata.bind': dealRef, 'record2id_contact@odata.bind': ref },
          contentId: id,
        }),
      );
    }
  }

  private currencyBind(code: string | null | undefined, currencies: CurrencyTable): Row {
    if (!code) return {};
    const id = currencies.idByCode.get(code.toUpperCase());
    return id ? { 'transactioncurrencyid@odata.bind': `/transactioncurrencies(${id})` } : {};
  }

  private syncColumns(sync: SyncWrite, current: Deal | null, e: Effective): Row {
    const c = e.names.columns;
    const row: Row = {};
    if (sync.referralId !== undefined) row[c.referralId] = sync.referralId;
    if (sync.referralLink !== undefined) row[c.referralLink] = sync.referralLink;
    if (sync.microsoftCrmId !== undefined) row[c.microsoftCrmId] = sync.microsoftCrmId;
    if (sync.auditLine)
      row[c.audit] = appendAuditLine(current?.audit ?? null, sync.auditLine, DEFAULT_LENGTHS.audit);
    return row;
  }

  private leadColumns(fields: DealPatch['fields'] & object, e: Effective): Row {
    const row: Row = {};
    if (fields.syncWithPartnerCenter !== undefined)
      row[e.names.columns.syncFlag] = fields.syncWithPartnerCenter ?? false;
    if (fields.notes !== undefined) row.description = fields.notes;
    if (fields.value !== undefined) row.estimatedamount = fields.value;
    if (fields.closeDate !== undefined) row.estimatedclosedate = fields.closeDate;
    return row;
  }
}

/** Requests of one change set, with Content-IDs so later parts bind to earlier ones (`$1`). */
class ChangeSet {
  private readonly parts: ((api: DynamicsWebApi) => void)[] = [];
  /** The one request when the change set turned out to be a single write (sent without $batch). */
  single: ((api: DynamicsWebApi) => Promise<unknown>) | undefined;

  get size(): number {
    return this.parts.length;
  }

  /** Queues a request and returns its `$n` reference. */
  add(request: (api: DynamicsWebApi, contentId: string) => unknown): string {
    const contentId = String(this.parts.length + 1);
    this.parts.push((api) => {
      request(api, contentId);
    });
    return `$${contentId}`;
  }

  /** The id a `$n` part returned (create/upsert answers carry the new record's id). */
  resultOf(ref: string, results: unknown[]): string | undefined {
    const value = results[Number(ref.slice(1)) - 1];
    return typeof value === 'string' ? value : undefined;
  }

  run(client: DataverseClient, operation: string, record: string): Promise<unknown[]> {
    return client.batch(
      operation,
      (api) => {
        for (const part of this.parts) part(api);
      },
      record,
    );
  }
}

/** Of two changes, the one with the higher row version (row versions are one sequence per environment). */
function newestOf<T extends { version?: string }>(a: T | undefined, b: T): T;
function newestOf<T extends { version?: string }>(a: T | undefined, b: T | undefined): T | undefined;
function newestOf<T extends { version?: string }>(a: T | undefined, b: T | undefined): T | undefined {
  if (!a || !b) return a ?? b;
  return Number(b.version ?? -1) > Number(a.version ?? -1) ? b : a;
}

function parseCursor(cursor: string | null): Cursor | null {
  if (!cursor) return null;
  try {
    const parsed = JSON.parse(cursor) as Cursor;
    if (parsed.v === 1 && typeof parsed.at === 'string') return parsed;
  } catch {}
  // A cursor from another CRM or an older format: start over as a first poll.
  return null;
}

function isRow(value: unknown): value is Row {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The first of each key, in order. */
function uniqueBy<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = key(item);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function unexpected(operation: string, what: string, record?: string): CrmError {
  return new CrmError({
    crm: 'dynamics',
    operation,
    ...(record ? { record } : {}),
    message: `Dataverse ${operation}: ${what}.`,
    fix: 'This is a bug or an unexpected answer from Dataverse; report it with the run id.',
  });
}

/** Whether an account row is one `account` means: its DUNS, or its name and postal code (the filter's terms). */
function matchesAccount(row: Row, account: AccountInput, e: Effective): boolean {
  const same = (a: unknown, b: string) => typeof a === 'string' && a.toLowerCase() === b.toLowerCase();
  if (account.duns && e.accountDunsField) return row[e.accountDunsField] === account.duns;
  const postal = account.address?.postalCode;
  return (
    same(row[ACCOUNT_COLUMNS.name], account.name) &&
    (!postal || same(row[ACCOUNT_COLUMNS.postalCode], postal))
  );
}
