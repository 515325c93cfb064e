// The Salesforce implementation of the CRM port, with the fewest calls the REST API allows:
// - a deal is read with one /composite of three queries (opportunity + account, contact roles, solution rows);
// - a create is one /composite of look-ups (existing deal, account, contacts, catalogue rows) and one allOrNone
//   /composite of writes (account, contacts, opportunity upsert by Referral_Identifier__c, contact roles,
//   solution rows), so a retried create never duplicates the opportunity;
// - an update is one PATCH (or one /composite when contacts or solutions change too), data and sync fields
//   together;
// - the change feed is one /composite of queryAll look-ups by SystemModstamp (deals, accounts, contact roles,
//   solution rows, leads) plus one query mapping related records to their deals.

import { appendAuditLine } from '../../core/audit.ts';
import type {
  Account,
  AccountInput,
  Contact,
  ContactInput,
  Deal,
  DealKind,
  SolutionRef,
} from '../../core/deal.ts';
import type { FieldLimits } from '../../core/fit.ts';
import { STATUS_MARKS } from '../../core/normalize.ts';
import type { Coalescer } from '../../lib/coalescer.ts';
import { TtlCache } from '../../lib/ttl-cache.ts';
import { type CreateItem, createBatcher, createThrough, unique } from '../batch-creates.ts';
import {
  type AccountMatch,
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
import {
  type CompositeSubrequest,
  type CompositeSubresponse,
  type DescribeResult,
  type QueryPage,
  SalesforceClient,
  type SalesforceClientOptions,
} from './client.ts';
import { readCurrencySupport } from './currencies.ts';
import { checkPackageSchema } from './doctor.ts';
import {
  COMPOSITE_MAX_QUERIES,
  COMPOSITE_MAX_SUBREQUESTS,
  FIELD_LIMITS,
  GRAPH_MAX_GRAPHS,
  GRAPH_MAX_NODES,
  SOQL_IN_CHUNK,
  STANDARD_OBJECTS,
} from './fields.ts';
import {
  accountFieldList,
  accountFromRecord,
  accountToRecord,
  CONTACT_ROLE_FIELDS,
  contactToRecord,
  countryValueFor,
  dealFieldsToOpportunity,
  leadFieldList,
  leadToDeal,
  type OrgShape,
  opportunityFieldList,
  opportunityToDeal,
  relationshipOf,
  type SfRecord,
  storedName,
} from './mapping.ts';
import {
  parseSalesforceSettings,
  type SalesforceConnection,
  type SalesforceSettings,
  type SalesforceSettingsInput,
} from './settings.ts';
import { type Condition, chunk, select } from './soql.ts';

const USER_CACHE_MS = 10 * 60_000;

const {
  opportunity: OPPORTUNITY,
  lead: LEAD,
  account: ACCOUNT,
  contact: CONTACT,
  contactRole: CONTACT_ROLE,
} = STANDARD_OBJECTS;

/** How long the enabled currencies are trusted before they are read again. */
const CURRENCY_CACHE_MS = 5 * 60_000;

const REASON_PRIORITY: Record<DealChange['reason'], number> = {
  deal: 0,
  account: 1,
  contact: 2,
  solution: 3,
};

/** Query results by name; a query given as undefined (skipped) has no result. */
type QueryResults<Q> = { [K in keyof Q]: undefined extends Q[K] ? SfRecord[] | undefined : SfRecord[] };

interface WritePlan {
  subrequests: CompositeSubrequest[];
  /** Rows that did not fit in the composite; created by collections after it, with the deal id known. */
  overflow: { type: string; record: SfRecord }[];
}

/** One opportunity's create, planned: its writes and the references of what they create. */
interface PlannedCreate {
  /** Position in the batch. */
  index: number;
  input: NewDeal;
  plan: WritePlan;
  accountRef: string | undefined;
  accountCreated: boolean;
  contactRefs: string[];
}

/** Accounts read per account match (the oldest name + postal code match wins, a DUNS match before it). */
const ACCOUNT_MATCH_ROWS = 20;

export class SalesforceAdapter implements CrmAdapter {
  readonly crm = 'salesforce' as const;
  readonly client: SalesforceClient;
  readonly settings: SalesforceSettings;
  private org: OrgShape | undefined;
  private limits: Record<DealKind, FieldLimits> | undefined;
  /** CRM users by e-mail (R29 owners): users change rarely, and each incoming referral asks. */
  private readonly users = new TtlCache<string | null>(USER_CACHE_MS);
  private readonly describes = new Map<string, Promise<DescribeResult>>();
  private currencySupport: { value: CurrencySupport; readAt: number } | undefined;
  /** Set by `batchCreates`: creates gathered into batches. */
  private creates: Coalescer<CreateItem, CreateDealResult> | undefined;

  constructor(client: SalesforceClient, settings: SalesforceSettings) {
    this.client = client;
    this.settings = settings;
  }

  static async connect(
    connection: SalesforceConnection,
    settings: SalesforceSettingsInput = {},
    clientOptions: SalesforceClientOptions = {},
  ): Promise<SalesforceAdapter> {
    const client = await SalesforceClient.connect(connection, clientOptions);
    return new SalesforceAdapter(client, parseSalesforceSettings(settings));
  }

  /** Which country/currency fields the org has; two describes, once per adapter. */
  async orgShape(): Promise<OrgShape> {
    if (this.org) return this.org;
    const f = this.settings.fields;
    const [opportunity, account, lead] = await Promise.all([
      this.describeOnce(OPPORTUNITY),
      this.describeOnce(ACCOUNT),
      this.describeOnce(LEAD),
    ]);
    const has = (fields: { name: string }[], name: string) => fields.some((x) => x.name === name);
    const accountCountryField = has(account.fields, f.accountCountry)
      ? f.accountCountry
      : f.accountCountryName;
    const leadCountryField = has(lead.fields, 'CountryCode') ? 'CountryCode' : 'Country';
    const audit = opportunity.fields.find((x) => x.name === f.audit);
    const name = opportunity.fields.find((x) => x.name === 'Name');
    this.org = {
      accountCountryField,
      // A configured field other than the *Code picklist is taken to hold names when it is the fallback.
      accountCountryIsName:
        accountCountryField === f.accountCountryName && !/Code$/.test(accountCountryField),
      leadCountryField,
      leadCountryIsName: leadCountryField === 'Country',
      currencyField: has(opportunity.fields, f.currency) ? f.currency : null,
      auditMaxLength: audit?.length || FIELD_LIMITS.auditDefault,
      opportunityNameMaxLength: name?.length || FIELD_LIMITS.opportunityName,
      accountDunsField: f.accountDuns && has(account.fields, f.accountDuns) ? f.accountDuns : null,
    };
    return this.org;
  }

  /** Field lengths from describe (four describes, once per adapter). The opportunity name keeps room for the
   *  ✔/✖ mark the adapter appends. */
  async fieldLimits(kind: DealKind): Promise<FieldLimits> {
    if (!this.limits) {
      const [opportunity, account, lead, contact] = await Promise.all(
        [OPPORTUNITY, ACCOUNT, LEAD, CONTACT].map((type) => this.describeOnce(type)),
      );
      const length = (d: { fields: { name: string; length?: number }[] } | undefined, name: string) => {
        const n = d?.fields.find((x) => x.name === name)?.length;
        return typeof n === 'number' && n > 0 ? n : undefined;
      };
      const markRoom = this.settings.displayCheckMark ? 1 + STATUS_MARKS.ok.length : 0;
      const nameMax = length(opportunity, 'Name') ?? FIELD_LIMITS.opportunityName;
      const contactLimits = {
        firstName: length(contact, 'FirstName'),
        lastName: length(contact, 'LastName'),
        email: length(contact, 'Email'),
        phone: length(contact, 'Phone'),
      };
      const accountLimits = {
        name: length(account, 'Name'),
        street: length(account, 'BillingStreet'),
        city: length(account, 'BillingCity'),
        state: length(account, 'BillingState'),
        postalCode: length(account, 'BillingPostalCode'),
      };
      this.limits = {
        opportunity: {
          deal: { name: nameMax - markRoom, notes: length(opportunity, 'Description') },
          contact: contactLimits,
          account: accountLimits,
        },
        lead: {
          deal: { name: length(lead, 'Company'), notes: length(lead, 'Description') },
          contact: {
            firstName: length(lead, 'FirstName'),
            lastName: length(lead, 'LastName'),
            email: length(lead, 'Email'),
            phone: length(lead, 'Phone'),
          },
          account: {
            name: length(lead, 'Company'),
            street: length(lead, 'Street'),
            city: length(lead, 'City'),
            state: length(lead, 'State'),
            postalCode: length(lead, 'PostalCode'),
          },
        },
      };
    }
    return this.limits[kind];
  }

  /** A single-currency org holds every amount in Organization.DefaultCurrencyIsoCode; a multi-currency org
   *  lists its enabled currencies as CurrencyType rows (reference/crm.md §B). One query, cached. */
  async currencies(): Promise<CurrencySupport> {
    const now = Date.now();
    if (this.currencySupport && now - this.currencySupport.readAt < CURRENCY_CACHE_MS)
      return this.currencySupport.value;
    const org = await this.orgShape();
    const value = await readCurrencySupport(this.client, org.currencyField !== null);
    this.currencySupport = { value, readAt: now };
    return value;
  }

  // ---- reading ---------------------------------------------------------------------------------------------

  async findDeal(ref: DealRef): Promise<Deal | null> {
    const kind = ref.kind ?? ('id' in ref && ref.id.startsWith('00Q') ? 'lead' : 'opportunity');
    const org = await this.orgShape();
    const f = this.settings.fields;
    const condition: Condition =
      'id' in ref
        ? { field: 'Id', op: '=', value: ref.id }
        : { field: f.referralId, op: '=', value: ref.referralId };
    if (kind === 'lead') {
      // By id through queryAll: a lead merged into another is deleted but names its survivor (R31); one that
      // was simply deleted reads as gone.
      const { leads } = await this.queries(
        'find lead',
        { leads: select({ fields: leadFieldList(this.settings, org), from: LEAD, where: condition }) },
        { includeDeleted: 'id' in ref },
      );
      const row = leads[0];
      if (!row || (row.IsDeleted === true && !row.MasterRecordId)) return null;
      return leadToDeal(row, this.settings, org);
    }
    const dealQuery = select({
      fields: opportunityFieldList(this.settings, org),
      from: OPPORTUNITY,
      where: condition,
    });
    if ('id' in ref) {
      const results = await this.queries('find deal', {
        deal: dealQuery,
        roles: this.rolesQuery([ref.id]),
        solutions: this.junctionQuery([ref.id]),
      });
      const deal = results.deal[0];
      if (!deal) return null;
      return opportunityToDeal(
        deal,
        { roles: results.roles, solutions: results.solutions },
        this.settings,
        org,
      );
    }
    const deals = await this.client.query(dealQuery, 'find deal by referral id');
    if (deals.length > 1) {
      throw new CrmError({
        crm: 'salesforce',
        operation: 'find deal by referral id',
        record: ref.referralId,
        code: 'MULTIPLE_CHOICES',
        message: `${deals.length} opportunities carry Referral Identifier ${ref.referralId}.`,
        fix: 'Keep one of them (clear the Referral Identifier on the others) and make the field Unique.',
      });
    }
    const deal = deals[0];
    if (!deal) return null;
    const id = String(deal.Id);
    const related = await this.queries('find deal', {
      roles: this.rolesQuery([id]),
      solutions: this.junctionQuery([id]),
    });
    return opportunityToDeal(deal, related, this.settings, org);
  }

  async findAccount(match: AccountMatch): Promise<Account | null> {
    const org = await this.orgShape();
    const rows = await this.client.query(this.accountMatchQuery([match], org), 'find account');
    return this.pickAccount(rows, match, org);
  }

  async findOrCreateAccount(input: AccountInput): Promise<{ account: Account; created: boolean }> {
    const org = await this.orgShape();
    const found = input.id ? null : await this.findAccount(accountMatchOf(input));
    if (found) return { account: found, created: false };
    if (input.id)
      return {
        account: { name: input.name, duns: input.duns ?? null, address: input.address ?? {}, id: input.id },
        created: false,
      };
    const id = await this.client.create(ACCOUNT, accountToRecord(input, org));
    return {
      account: { name: input.name, duns: input.duns ?? null, address: input.address ?? {}, id },
      created: true,
    };
  }

  async findOrCreateContacts(accountId: string, contacts: ContactInput[]): Promise<Contact[]> {
    const emails = contacts.map((c) => c.email).filter((e): e is string => Boolean(e));
    const existing = emails.length
      ? await this.client.query(this.contactsByEmailQuery(emails), 'find contacts')
      : [];
    const out: Contact[] = [];
    const toCreate: { input: ContactInput; index: number }[] = [];
    contacts.forEach((input, index) => {
      const match = findContact(existing, input, accountId);
      if (match) out[index] = { ...normaliseContact(input), id: String(match.Id) };
      else toCreate.push({ input, index });
    });
    if (toCreate.length) {
      const ids = await this.client.createMany(
        CONTACT,
        toCreate.map((c) => contactToRecord(c.input, accountId)),
      );
      toCreate.forEach((c, i) => {
        out[c.index] = { ...normaliseContact(c.input), id: ids[i] ?? null };
      });
    }
    return out;
  }

  // ---- writing ---------------------------------------------------------------------------------------------

  async createDeal(input: NewDeal, sync: SyncWrite = {}): Promise<CreateDealResult> {
    if (input.kind === 'lead') return this.createLead(input, sync);
    return createThrough(this.creates, (items) => this.createDeals(items), { input, sync });
  }

  /**
   * From now on, opportunity creates that arrive within `lingerMs` of each other share one call of look-ups and
   * one `/composite/graph` of writes (one all-or-none graph per record): a backfill's many workers cost a few
   * calls per batch instead of two per record. Batches run one after another, and two creates touching the same
   * referral, account or contact never share one, so a batch never creates what the one before it did.
   */
  batchCreates(options: { lingerMs: number }): void {
    this.creates = createBatcher((items) => this.createDeals(items), {
      maxItems: GRAPH_MAX_GRAPHS,
      lingerMs: options.lingerMs,
    });
  }

  /** Creates opportunities: one call of look-ups for all, then their writes (each record all-or-none). */
  private async createDeals(items: CreateItem[]): Promise<(CreateDealResult | Error)[]> {
    const org = await this.orgShape();
    const f = this.settings.fields;
    const matches = items.map(({ input }) =>
      input.account && !input.account.id ? accountMatchOf(input.account) : undefined,
    );
    const emails = unique(
      items.flatMap(({ input }) =>
        (input.contacts ?? []).map((c) => c.email).filter((e): e is string => Boolean(e)),
      ),
    );
    const solutionIds = unique(items.flatMap(({ input }) => (input.solutions ?? []).map((s) => s.id)));
    const referralIds = items.map(({ input }) => input.referralId);

    // One call of look-ups. The existing-deal check makes a retried create a no-op; the upsert below still
    // guarantees one opportunity if two creates race past it.
    const lookups = await this.queries('create deal (look-ups)', {
      existing: select({
        fields: ['Id', 'AccountId', f.referralId],
        from: OPPORTUNITY,
        where:
          referralIds.length === 1
            ? { field: f.referralId, op: '=', value: referralIds[0]! }
            : { field: f.referralId, op: 'IN', values: referralIds },
      }),
      accounts: matches.some(Boolean)
        ? this.accountMatchQuery(
            matches.filter((m): m is AccountMatch => m !== undefined),
            org,
          )
        : undefined,
      contacts: emails.length ? this.contactsByEmailQuery(emails) : undefined,
      catalogue: solutionIds.length ? this.catalogueQuery(solutionIds) : undefined,
    });

    const outcomes: (CreateDealResult | Error)[] = new Array(items.length);
    const planned: PlannedCreate[] = [];
    items.forEach(({ input, sync }, index) => {
      const existing = lookups.existing.find(
        (row) => String(row[f.referralId] ?? '').toLowerCase() === input.referralId.toLowerCase(),
      );
      if (existing) {
        outcomes[index] = {
          id: String(existing.Id),
          kind: 'opportunity',
          created: false,
          accountId: strOrUndefined(existing.AccountId),
          contactIds: [],
        };
        return;
      }
      const match = matches[index];
      const accounts = match ? (lookups.accounts ?? []).filter((row) => matchesAccount(row, match, org)) : [];
      try {
        planned.push({ index, input, ...this.planCreate(input, sync, org, accounts, lookups) });
      } catch (error) {
        outcomes[index] = error as Error;
      }
    });

    if (planned.length === 1 && items.length === 1) {
      const only = planned[0]!;
      try {
        outcomes[only.index] = await this.finishCreate(
          only,
          await this.runWrites('create deal', only.plan, only.input.referralId),
        );
      } catch (error) {
        outcomes[only.index] = error as Error;
      }
      return outcomes;
    }
    for (const group of graphGroups(planned)) {
      let written: Map<string, Map<string, CompositeSubresponse> | CrmError>;
      try {
        written = await this.client.graph(
          'create deal',
          group.map((p) => ({
            graphId: `r${p.index}`,
            record: p.input.referralId,
            subrequests: p.plan.subrequests,
          })),
        );
      } catch (error) {
        // The call itself failed (network, session, limits): each record's own retry decides.
        for (const p of group) outcomes[p.index] = error as Error;
        continue;
      }
      for (const p of group) {
        const result = written.get(`r${p.index}`);
        try {
          if (!result)
            throw unexpected('create deal', 'the graph answered nothing for this record', p.input.referralId);
          if (result instanceof Error) throw result;
          outcomes[p.index] = await this.finishCreate(p, result);
        } catch (error) {
          outcomes[p.index] = error as Error;
        }
      }
    }
    return outcomes;
  }

  /** One opportunity's writes: its account and contacts unless they exist, the upsert, contact roles, solutions. */
  private planCreate(
    input: NewDeal,
    sync: SyncWrite,
    org: OrgShape,
    accounts: SfRecord[],
    lookups: { contacts?: SfRecord[]; catalogue?: SfRecord[] },
  ): Omit<PlannedCreate, 'index' | 'input'> {
    const f = this.settings.fields;
    const accountMatch = input.account && !input.account.id ? accountMatchOf(input.account) : undefined;
    const plan: WritePlan = { subrequests: [], overflow: [] };
    let accountRef: string | undefined;
    let accountCreated = false;
    const matchedAccount = accountMatch ? this.pickAccount(accounts, accountMatch, org) : null;
    if (input.account?.id) accountRef = input.account.id;
    else if (matchedAccount?.id) accountRef = matchedAccount.id;
    else if (input.account) {
      plan.subrequests.push({
        method: 'POST',
        url: `/sobjects/${ACCOUNT}`,
        referenceId: 'account',
        body: accountToRecord(input.account, org),
      });
      accountRef = '@{account.id}';
      accountCreated = true;
    }

    const contactRefs = this.planContacts(
      plan,
      input.contacts ?? [],
      lookups.contacts ?? [],
      accountCreated ? undefined : accountRef,
      accountRef,
    );
    const solutionRefs = this.planCatalogue(plan, input.solutions ?? [], lookups.catalogue ?? []);

    const dealBody: SfRecord = {
      ...input.extraFields,
      Name: storedName(input.fields.name, sync.mark, this.settings, org.opportunityNameMaxLength),
      ...dealFieldsToOpportunity(
        {
          ...input.fields,
          stage:
            input.fields.stage ??
            (input.fields.onHold ? this.settings.stages.onHold : this.settings.stages.active),
          syncWithPartnerCenter: input.fields.syncWithPartnerCenter ?? true,
        },
        this.settings,
        org,
      ),
      ...this.syncFieldsBody(sync, null, org),
    };
    if (accountRef) dealBody.AccountId = accountRef;
    if (input.ownerId) dealBody.OwnerId = input.ownerId;
    plan.subrequests.push({
      method: 'PATCH',
      url: `/sobjects/${OPPORTUNITY}/${f.referralId}/${encodeURIComponent(input.referralId)}`,
      referenceId: 'deal',
      body: dealBody,
    });
    this.planDealRows(plan, '@{deal.id}', contactRefs, solutionRefs, []);
    return { plan, accountRef, accountCreated, contactRefs };
  }

  /** The ids a create's writes gave, once the rows that did not fit in its request are written too. */
  private async finishCreate(
    planned: PlannedCreate,
    results: Map<string, CompositeSubresponse>,
  ): Promise<CreateDealResult> {
    const { accountRef, contactRefs } = planned;
    const dealId = idOf(results.get('deal'));
    if (!dealId)
      throw unexpected('create deal', 'the opportunity upsert returned no id', planned.input.referralId);
    await this.createOverflow(planned.plan, dealId);
    return {
      id: dealId,
      kind: 'opportunity',
      created: (results.get('deal')?.body as { created?: boolean } | undefined)?.created !== false,
      ...(accountRef
        ? { accountId: accountRef.startsWith('@') ? idOf(results.get('account')) : accountRef }
        : {}),
      accountCreated: planned.accountCreated,
      contactIds: contactRefs.map((ref) =>
        ref.startsWith('@') ? (idOf(results.get(ref.slice(2, -4))) ?? '') : ref,
      ),
    };
  }

  private async createLead(input: NewDeal, sync: SyncWrite): Promise<CreateDealResult> {
    const org = await this.orgShape();
    const f = this.settings.fields;
    const contact = input.contacts?.[0];
    const address = input.account?.address ?? {};
    const body: SfRecord = {
      ...input.extraFields,
      // No ✔/✖ on leads: the company name becomes the account name when a seller converts the lead.
      Company: (input.account?.name ?? input.fields.name).slice(0, FIELD_LIMITS.accountName),
      LastName: contact?.lastName ?? input.account?.name ?? input.fields.name,
      Status: input.fields.stage ?? this.settings.leadStatus,
      [f.syncFlag]: input.fields.syncWithPartnerCenter ?? true,
      ...this.syncFieldsBody(sync, null, org),
    };
    if (contact?.firstName) body.FirstName = contact.firstName;
    if (contact?.email) body.Email = contact.email;
    if (contact?.phone) body.Phone = contact.phone;
    if (address.street) body.Street = address.street;
    if (address.city) body.City = address.city;
    if (address.state) body.State = address.state;
    if (address.postalCode) body.PostalCode = address.postalCode;
    if (address.country) body[org.leadCountryField] = countryValueFor(address.country, org.leadCountryIsName);
    if (input.fields.notes) body.Description = input.fields.notes;
    if (input.ownerId) body.OwnerId = input.ownerId;
    const result = await this.client.upsert(LEAD, f.referralId, input.referralId, body);
    return { id: result.id, kind: 'lead', created: result.created, contactIds: [] };
  }

  async updateDeal(current: Deal, patch: DealPatch, sync: SyncWrite = {}): Promise<void> {
    const org = await this.orgShape();
    const type = current.kind === 'lead' ? LEAD : OPPORTUNITY;
    const body: SfRecord = {
      ...(current.kind === 'opportunity'
        ? dealFieldsToOpportunity(patch.fields ?? {}, this.settings, org)
        : this.leadFields(patch)),
      ...this.syncFieldsBody(sync, current, org),
    };
    const nameChanged = patch.fields?.name !== undefined && patch.fields.name !== current.name;
    const markChanged =
      current.kind === 'opportunity' &&
      sync.mark !== undefined &&
      this.settings.displayCheckMark &&
      (sync.mark ?? null) !== (current.mark ?? null);
    if (nameChanged || markChanged) {
      const mark = sync.mark !== undefined ? sync.mark : current.mark;
      const name = patch.fields?.name ?? current.name;
      if (current.kind === 'lead') body.Company = name.slice(0, FIELD_LIMITS.accountName);
      else body.Name = storedName(name, mark, this.settings, org.opportunityNameMaxLength);
    }

    const addContacts = (patch.addContacts ?? []).filter(
      (c) => !current.contacts.some((x) => sameEmail(x.email, c.email)),
    );
    const known = new Set(current.solutions.map((s) => s.id));
    const addSolutions = (patch.addSolutions ?? []).filter((s) => !known.has(s.id));
    const removeIds = (patch.removeSolutions ?? []).filter((id) => known.has(id));
    const unlink = new Set(
      current.contacts
        .filter((c) => c.id && (patch.removeContacts ?? []).some((e) => sameEmail(e, c.email)))
        .map((c) => c.id as string),
    );
    const needsRelated =
      current.kind === 'opportunity' &&
      (addContacts.length || addSolutions.length || removeIds.length || unlink.size);

    if (!needsRelated) {
      if (Object.keys(body).length === 0) return;
      await this.client.update(type, current.id, body);
      return;
    }

    const emails = addContacts.map((c) => c.email).filter((e): e is string => Boolean(e));
    const lookups = await this.queries('update deal (look-ups)', {
      contacts: emails.length ? this.contactsByEmailQuery(emails) : undefined,
      catalogue: addSolutions.length ? this.catalogueQuery(addSolutions.map((s) => s.id)) : undefined,
      roles: unlink.size
        ? select({
            fields: ['Id', 'ContactId'],
            from: CONTACT_ROLE,
            where: { field: 'OpportunityId', op: '=', value: current.id },
          })
        : undefined,
    });
    const plan: WritePlan = { subrequests: [], overflow: [] };
    // Unlinking a contact deletes its contact role on the deal, never the contact.
    for (const role of (lookups.roles ?? []).filter((r) => unlink.has(String(r.ContactId)))) {
      plan.subrequests.push({
        method: 'DELETE',
        url: `/sobjects/${CONTACT_ROLE}/${String(role.Id)}`,
        referenceId: `unlink${plan.subrequests.length}`,
      });
    }
    if (Object.keys(body).length) {
      plan.subrequests.push({
        method: 'PATCH',
        url: `/sobjects/${OPPORTUNITY}/${current.id}`,
        referenceId: 'deal',
        body,
      });
    }
    const accountId = current.account?.id ?? undefined;
    const contactRefs = this.planContacts(plan, addContacts, lookups.contacts ?? [], accountId, accountId);
    const solutionRefs = this.planCatalogue(plan, addSolutions, lookups.catalogue ?? []);
    const removeRows = current.solutions.filter((s) => removeIds.includes(s.id));
    const junctionIds = removeRows.length ? await this.junctionRowIds(current.id, removeRows) : [];
    this.planDealRows(
      plan,
      current.id,
      contactRefs,
      solutionRefs,
      junctionIds,
      current.contacts.length === 0,
    );
    await this.runWrites('update deal', plan, current.id);
    await this.createOverflow(plan, current.id);
  }

  async closeDeal(
    current: Deal,
    outcome: 'won' | 'lost',
    patch: DealPatch = {},
    sync: SyncWrite = {},
  ): Promise<void> {
    if (current.kind === 'lead') {
      throw new CrmError({
        crm: 'salesforce',
        operation: 'close deal',
        record: current.id,
        message: 'A lead cannot be closed won or lost; convert it to an opportunity first.',
        fix: 'Convert the lead in Salesforce; cosell relinks the referral to the new opportunity.',
      });
    }
    // Salesforce derives IsClosed/IsWon from the stage: the close is one more field of the same update.
    const stage = outcome === 'won' ? this.settings.stages.won : this.settings.stages.lost;
    await this.updateDeal(current, { ...patch, fields: { ...patch.fields, stage } }, sync);
  }

  async findUserByEmail(email: string): Promise<string | null> {
    return this.users.get(email, async () => {
      const rows = await this.client.query(
        select({
          fields: ['Id'],
          from: 'User',
          where: {
            and: [
              { field: 'IsActive', op: '=', value: true },
              { field: 'Email', op: '=', value: email },
            ],
          },
          limit: 1,
        }),
        'find user by e-mail',
      );
      return rows[0] ? String(rows[0].Id) : null;
    });
  }

  recordUrl(ref: { kind: DealKind; id: string }): string {
    const object = ref.kind === 'lead' ? 'Lead' : 'Opportunity';
    return `${this.client.instanceUrl}/lightning/r/${object}/${encodeURIComponent(ref.id)}/view`;
  }

  async probe(): Promise<void> {
    // An object the integration user must read anyway, so the probe fails only when the credentials do.
    await this.client.query(select({ fields: ['Id'], from: OPPORTUNITY, limit: 1 }), 'probe');
  }

  apiCallCount(): number {
    return this.client.apiCalls;
  }

  async addSolutions(deal: Pick<Deal, 'kind' | 'id'>, solutions: SolutionRef[]): Promise<void> {
    if (solutions.length === 0) return;
    const lookups = await this.queries('add solutions (look-ups)', {
      catalogue: this.catalogueQuery(solutions.map((s) => s.id)),
      attached: this.junctionQuery([deal.id]),
    });
    const attached = new Set(lookups.attached.map((row) => catalogueIdOf(row, this.settings)));
    const plan: WritePlan = { subrequests: [], overflow: [] };
    const refs = this.planCatalogue(
      plan,
      solutions.filter((s) => !attached.has(s.id)),
      lookups.catalogue,
    );
    this.planDealRows(plan, deal.id, [], refs, []);
    if (plan.subrequests.length === 0) return;
    await this.runWrites('add solutions', plan, deal.id);
    await this.createOverflow(plan, deal.id);
  }

  async removeSolutions(deal: Pick<Deal, 'kind' | 'id'>, solutionIds: string[]): Promise<void> {
    if (solutionIds.length === 0) return;
    const rows = await this.client.query(this.junctionQuery([deal.id]), 'remove solutions (look-up)');
    const ids = rows
      .filter((row) => solutionIds.includes(catalogueIdOf(row, this.settings) ?? ''))
      .map((row) => String(row.Id));
    if (ids.length) await this.client.destroyMany(ids);
  }

  // ---- change feed -----------------------------------------------------------------------------------------

  async listChangedDeals(cursor: string | null, options: ChangeFeedOptions = {}): Promise<ChangeFeedPage> {
    const f = this.settings.fields;
    const s = this.settings.solutions;
    const now = options.now ?? new Date();
    const overlap = options.overlapMs ?? this.settings.changeFeed.overlapMs;
    const lookback = options.initialLookbackMs ?? this.settings.changeFeed.initialLookbackMs;
    const since = cursor ? new Date(Date.parse(cursor) - overlap) : new Date(now.getTime() - lookback);
    const stamp: Condition = { field: 'SystemModstamp', op: '>=', value: since };
    const syncedOrLinked: Condition = {
      or: [
        { field: f.syncFlag, op: '=', value: true },
        { field: f.referralId, op: '!=', value: null },
      ],
    };
    const order = [{ field: 'SystemModstamp' }];
    // queryAll so deletions show up (IsDeleted): a deleted deal unlinks (R31), a deleted role or solution row
    // changes its deal.
    const results = await this.queries(
      'list changed deals',
      {
        deals: select({
          fields: ['Id', 'SystemModstamp', 'IsDeleted'],
          from: OPPORTUNITY,
          where: { and: [stamp, syncedOrLinked] },
          orderBy: order,
        }),
        accounts: select({ fields: ['Id', 'SystemModstamp'], from: ACCOUNT, where: stamp, orderBy: order }),
        roles: select({
          fields: ['OpportunityId', 'SystemModstamp'],
          from: CONTACT_ROLE,
          where: stamp,
          orderBy: order,
        }),
        solutions: select({
          fields: [s.junctionDeal, 'SystemModstamp'],
          from: s.junctionObject,
          where: stamp,
          orderBy: order,
        }),
        leads: this.settings.syncCoSellOpportunitiesOnly
          ? undefined
          : select({
              fields: ['Id', 'SystemModstamp', 'IsDeleted'],
              from: LEAD,
              where: { and: [stamp, syncedOrLinked] },
              orderBy: order,
            }),
      },
      { includeDeleted: true },
    );

    let newest = cursor ? Date.parse(cursor) : since.getTime();
    const see = (value: unknown) => {
      const t = typeof value === 'string' ? Date.parse(value) : Number.NaN;
      if (!Number.isNaN(t) && t > newest) newest = t;
    };
    const changes = new Map<string, DealChange>();
    const add = (change: DealChange) => {
      const previous = changes.get(change.id);
      if (!previous) {
        changes.set(change.id, change);
        return;
      }
      const kept = REASON_PRIORITY[change.reason] < REASON_PRIORITY[previous.reason] ? change : previous;
      // The newest stamp of everything that changed for this deal, so a related edit is never hidden behind an
      // older change of the deal itself (callers tell hints apart by stamp).
      const newest =
        Date.parse(change.modifiedAt ?? '') > Date.parse(previous.modifiedAt ?? '')
          ? change.modifiedAt
          : previous.modifiedAt;
      changes.set(change.id, { ...kept, modifiedAt: newest ?? kept.modifiedAt });
    };
    for (const row of results.deals) {
      see(row.SystemModstamp);
      add({
        kind: 'opportunity',
        id: String(row.Id),
        reason: 'deal',
        deleted: row.IsDeleted === true,
        modifiedAt: String(row.SystemModstamp),
      });
    }
    for (const row of results.leads ?? []) {
      see(row.SystemModstamp);
      add({
        kind: 'lead',
        id: String(row.Id),
        reason: 'deal',
        deleted: row.IsDeleted === true,
        modifiedAt: String(row.SystemModstamp),
      });
    }
    const relatedDealIds = new Map<string, DealChange['reason']>();
    // A related change is stamped with the related row's SystemModstamp (the newest), not the deal's, so two
    // edits of the same account are two hints and the same edit listed again by the overlap is one.
    const relatedStamps = new Map<string, string>();
    const stampRelated = (key: string, stamp: unknown) => {
      const text = String(stamp);
      const previous = relatedStamps.get(key);
      if (!previous || Date.parse(text) > Date.parse(previous)) relatedStamps.set(key, text);
    };
    for (const row of results.roles) {
      see(row.SystemModstamp);
      if (typeof row.OpportunityId === 'string') {
        relatedDealIds.set(row.OpportunityId, 'contact');
        stampRelated(row.OpportunityId, row.SystemModstamp);
      }
    }
    for (const row of results.solutions) {
      see(row.SystemModstamp);
      const id = row[s.junctionDeal];
      if (typeof id === 'string') {
        if (!relatedDealIds.has(id)) relatedDealIds.set(id, 'solution');
        stampRelated(id, row.SystemModstamp);
      }
    }
    const accountIds = results.accounts.map((row) => {
      see(row.SystemModstamp);
      stampRelated(String(row.Id), row.SystemModstamp);
      return String(row.Id);
    });

    // Related rows name a deal or an account; keep only deals that sync (ticked or linked).
    for (const row of await this.syncedDealsAmong([...relatedDealIds.keys()], accountIds, syncedOrLinked)) {
      const id = String(row.Id);
      const reason = relatedDealIds.get(id) ?? 'account';
      // The newest of the deal's related changes: a role listed again by the overlap must not hide a newer edit
      // of the account.
      const stamps = [
        relatedStamps.get(id),
        typeof row.AccountId === 'string' ? relatedStamps.get(row.AccountId) : undefined,
      ]
        .filter((t): t is string => t !== undefined)
        .sort((a, b) => Date.parse(b) - Date.parse(a));
      const stamp = stamps[0] ?? String(row.SystemModstamp);
      add({ kind: 'opportunity', id, reason, modifiedAt: stamp });
    }
    // The next poll starts `overlap` before this cursor: changes stamped earlier are never listed again.
    return {
      changes: [...changes.values()],
      cursor: new Date(newest).toISOString(),
      relistsAfter: new Date(newest - overlap).toISOString(),
    };
  }

  private async syncedDealsAmong(
    dealIds: string[],
    accountIds: string[],
    syncedOrLinked: Condition,
  ): Promise<SfRecord[]> {
    const out: SfRecord[] = [];
    const chunks = Math.max(
      Math.ceil(dealIds.length / SOQL_IN_CHUNK),
      Math.ceil(accountIds.length / SOQL_IN_CHUNK),
    );
    for (let i = 0; i < chunks; i++) {
      const deals = dealIds.slice(i * SOQL_IN_CHUNK, (i + 1) * SOQL_IN_CHUNK);
      const accounts = accountIds.slice(i * SOQL_IN_CHUNK, (i + 1) * SOQL_IN_CHUNK);
      const related: Condition[] = [];
      if (deals.length) related.push({ field: 'Id', op: 'IN', values: deals });
      if (accounts.length) related.push({ field: 'AccountId', op: 'IN', values: accounts });
      if (related.length === 0) continue;
      const soql = select({
        fields: ['Id', 'AccountId', 'SystemModstamp'],
        from: OPPORTUNITY,
        where: { and: [related.length === 1 ? related[0]! : { or: related }, syncedOrLinked] },
      });
      out.push(...(await this.client.query(soql, 'list changed deals (related)')));
    }
    return out;
  }

  async describeSchema(): Promise<SchemaReport> {
    return checkPackageSchema(this.client, undefined, undefined, this.settings);
  }

  // ---- helpers ---------------------------------------------------------------------------------------------

  /** Describes change only when an admin deploys: one per object and adapter (a failed one is asked again). */
  private describeOnce(type: string): Promise<DescribeResult> {
    let pending = this.describes.get(type);
    if (!pending) {
      pending = this.client.describe(type);
      pending.catch(() => this.describes.delete(type));
      this.describes.set(type, pending);
    }
    return pending;
  }

  /** Runs up to five named queries in one /composite call and follows paging of each. */
  private async queries<Q extends Record<string, string | undefined>>(
    operation: string,
    named: Q,
    options: { includeDeleted?: boolean } = {},
  ): Promise<QueryResults<Q>> {
    const entries = Object.entries(named).filter((e): e is [string, string] => typeof e[1] === 'string');
    const out: Record<string, SfRecord[]> = {};
    if (entries.length === 1) {
      const [key, soql] = entries[0]!;
      out[key] = options.includeDeleted
        ? await this.client.queryAll(soql, operation)
        : await this.client.query(soql, operation);
      return out as QueryResults<Q>;
    }
    for (const group of chunk(entries, COMPOSITE_MAX_QUERIES)) {
      const resource = options.includeDeleted ? '/queryAll' : '/query';
      const responses = await this.client.composite(
        operation,
        group.map(([key, soql]) => ({
          method: 'GET',
          url: `${resource}?q=${encodeURIComponent(soql)}`,
          referenceId: key,
        })),
        { allOrNone: false },
      );
      for (const [key, soql] of group) {
        const page = responses.get(key)?.body as QueryPage<SfRecord> | undefined;
        if (!page || !Array.isArray(page.records))
          throw unexpected(operation, `query ${key} returned no records`);
        out[key] = page.done
          ? page.records
          : await this.client.allPages<SfRecord>(
              page,
              { soql, includeDeleted: options.includeDeleted ?? false },
              operation,
            );
      }
    }
    return out as QueryResults<Q>;
  }

  private rolesQuery(dealIds: string[]): string {
    return select({
      fields: [...CONTACT_ROLE_FIELDS, 'OpportunityId'],
      from: CONTACT_ROLE,
      where: { field: 'OpportunityId', op: 'IN', values: dealIds },
    });
  }

  private junctionQuery(dealIds: string[]): string {
    const s = this.settings.solutions;
    const parent = relationshipOf(s.junctionSolution);
    return select({
      fields: [
        'Id',
        s.junctionDeal,
        s.junctionSolution,
        `${parent}.${s.catalogueSolutionId}`,
        `${parent}.${s.catalogueSolutionName}`,
        `${parent}.Name`,
      ],
      from: s.junctionObject,
      where: { field: s.junctionDeal, op: 'IN', values: dealIds },
    });
  }

  async importSolutions(solutions: readonly SolutionRef[]): Promise<SolutionImportResult> {
    const s = this.settings.solutions;
    const counts: SolutionImportResult = { created: 0, updated: 0, unchanged: 0 };
    if (solutions.length === 0) return counts;
    const existing = await this.client.query(
      select({
        fields: ['Id', s.catalogueSolutionId, s.catalogueSolutionName],
        from: s.catalogueObject,
        where: { field: s.catalogueSolutionId, op: 'IN', values: solutions.map((x) => x.id) },
      }),
      'import solutions (look-up)',
    );
    const byId = new Map(existing.map((row) => [String(row[s.catalogueSolutionId]).toLowerCase(), row]));
    const writes: CompositeSubrequest[] = [];
    for (const solution of solutions) {
      const name = (solution.name ?? solution.id).slice(0, 255);
      const row = byId.get(solution.id.toLowerCase());
      if (row && String(row[s.catalogueSolutionName] ?? '') === name) {
        counts.unchanged++;
        continue;
      }
      if (row) counts.updated++;
      else counts.created++;
      writes.push({
        method: 'PATCH',
        url: `/sobjects/${s.catalogueObject}/${s.catalogueSolutionId}/${encodeURIComponent(solution.id)}`,
        referenceId: `solution${writes.length}`,
        body: { Name: name.slice(0, 80), [s.catalogueSolutionName]: name },
      });
    }
    for (let i = 0; i < writes.length; i += COMPOSITE_MAX_SUBREQUESTS) {
      await this.client.composite('import solutions', writes.slice(i, i + COMPOSITE_MAX_SUBREQUESTS), {
        allOrNone: true,
        record: s.catalogueObject,
      });
    }
    return counts;
  }

  private catalogueQuery(solutionIds: string[]): string {
    const s = this.settings.solutions;
    return select({
      fields: ['Id', s.catalogueSolutionId, 'Name'],
      from: s.catalogueObject,
      where: { field: s.catalogueSolutionId, op: 'IN', values: solutionIds },
    });
  }

  private contactsByEmailQuery(emails: string[]): string {
    return select({
      fields: ['Id', 'AccountId', 'Email', 'FirstName', 'LastName', 'CreatedDate'],
      from: CONTACT,
      where: { field: 'Email', op: 'IN', values: emails },
      orderBy: [{ field: 'CreatedDate' }],
    });
  }

  /** DUNS when known and configured, else name + postal code (R5); SOQL `=` compares case-insensitively. */
  /** Accounts any of `matches` could mean (name and postal code, or DUNS), oldest first. */
  private accountMatchQuery(matches: AccountMatch[], org: OrgShape): string {
    const options: Condition[] = [];
    for (const match of matches) {
      const byName: Condition[] = [{ field: 'Name', op: '=', value: match.name }];
      if (match.postalCode) byName.push({ field: 'BillingPostalCode', op: '=', value: match.postalCode });
      options.push(byName.length === 1 ? byName[0]! : { and: byName });
      if (match.duns && org.accountDunsField)
        options.push({ field: org.accountDunsField, op: '=', value: match.duns });
    }
    return select({
      fields: [...accountFieldList(org), 'CreatedDate'],
      from: ACCOUNT,
      where: options.length === 1 ? options[0]! : { or: options },
      orderBy: [{ field: 'CreatedDate' }],
      limit: Math.min(ACCOUNT_MATCH_ROWS * matches.length, 2_000),
    });
  }

  /** Prefers a DUNS match, then the oldest name + postal code match. */
  private pickAccount(rows: SfRecord[], match: AccountMatch, org: OrgShape): Account | null {
    const byDuns =
      match.duns && org.accountDunsField
        ? rows.find((r) => r[org.accountDunsField!] === match.duns)
        : undefined;
    const chosen = byDuns ?? rows[0];
    return chosen ? accountFromRecord(chosen, org) : null;
  }

  /** Adds contact creates for contacts not matched by email within the account; returns one id or ref each. */
  private planContacts(
    plan: WritePlan,
    contacts: ContactInput[],
    existing: SfRecord[],
    matchAccountId: string | undefined,
    accountRef: string | undefined,
  ): string[] {
    return contacts.map((input, index) => {
      const match = matchAccountId ? findContact(existing, input, matchAccountId) : undefined;
      if (match) return String(match.Id);
      const referenceId = `contact${index}`;
      plan.subrequests.push({
        method: 'POST',
        url: `/sobjects/${CONTACT}`,
        referenceId,
        body: contactToRecord(input, accountRef),
      });
      return `@{${referenceId}.id}`;
    });
  }

  /** Catalogue rows for solutions not in the catalogue yet are upserted by their Partner Center id. */
  private planCatalogue(plan: WritePlan, solutions: SolutionRef[], catalogue: SfRecord[]): string[] {
    const s = this.settings.solutions;
    return solutions.map((solution, index) => {
      const row = catalogue.find(
        (r) => String(r[s.catalogueSolutionId]).toLowerCase() === solution.id.toLowerCase(),
      );
      if (row) return String(row.Id);
      const referenceId = `catalogue${index}`;
      const name = solution.name ?? solution.id;
      plan.subrequests.push({
        method: 'PATCH',
        url: `/sobjects/${s.catalogueObject}/${s.catalogueSolutionId}/${encodeURIComponent(solution.id)}`,
        referenceId,
        body: { Name: name.slice(0, 80), [s.catalogueSolutionName]: name.slice(0, 255) },
      });
      return `@{${referenceId}.id}`;
    });
  }

  /** Contact roles, solution rows and row deletions for one deal; what exceeds the composite goes to overflow. */
  private planDealRows(
    plan: WritePlan,
    dealRef: string,
    contactRefs: string[],
    solutionRefs: string[],
    junctionIdsToDelete: string[],
    firstIsPrimary = true,
  ): void {
    const s = this.settings.solutions;
    const rows: { type: string; record: SfRecord; referenceId: string }[] = [
      ...contactRefs.map((contactId, i) => ({
        type: CONTACT_ROLE,
        referenceId: `role${i}`,
        record: {
          OpportunityId: dealRef,
          ContactId: contactId,
          Role: this.settings.contactRole,
          IsPrimary: firstIsPrimary && i === 0,
        },
      })),
      ...solutionRefs.map((solutionId, i) => ({
        type: s.junctionObject,
        referenceId: `solution${i}`,
        record: { [s.junctionDeal]: dealRef, [s.junctionSolution]: solutionId },
      })),
    ];
    for (const id of junctionIdsToDelete) {
      plan.subrequests.push({
        method: 'DELETE',
        url: `/sobjects/${s.junctionObject}/${id}`,
        referenceId: `remove${plan.subrequests.length}`,
      });
    }
    for (const row of rows) {
      const fits = plan.subrequests.length < COMPOSITE_MAX_SUBREQUESTS;
      // A row that references another new row (@{contact3.id}) must stay in the composite.
      const refersToNew = Object.values(row.record).some(
        (v) => typeof v === 'string' && v.startsWith('@{') && v !== dealRef,
      );
      if (fits || refersToNew)
        plan.subrequests.push({
          method: 'POST',
          url: `/sobjects/${row.type}`,
          referenceId: row.referenceId,
          body: row.record,
        });
      else plan.overflow.push({ type: row.type, record: row.record });
    }
    if (plan.subrequests.length > COMPOSITE_MAX_SUBREQUESTS) {
      throw new CrmError({
        crm: 'salesforce',
        operation: 'write deal',
        message: `Too many new contacts and solutions for one request (${plan.subrequests.length} > ${COMPOSITE_MAX_SUBREQUESTS}).`,
        fix: 'Add the contacts or solutions in smaller steps.',
      });
    }
  }

  private async runWrites(
    operation: string,
    plan: WritePlan,
    record: string,
  ): Promise<Map<string, CompositeSubresponse>> {
    if (plan.subrequests.length === 0) return new Map();
    return this.client.composite(operation, plan.subrequests, { allOrNone: true, record });
  }

  private async createOverflow(plan: WritePlan, dealId: string): Promise<void> {
    const byType = new Map<string, SfRecord[]>();
    for (const row of plan.overflow) {
      const record = Object.fromEntries(
        Object.entries(row.record).map(([k, v]) => [k, v === '@{deal.id}' ? dealId : v]),
      );
      byType.set(row.type, [...(byType.get(row.type) ?? []), record]);
    }
    for (const [type, records] of byType) await this.client.createMany(type, records);
  }

  private async junctionRowIds(dealId: string, solutions: SolutionRef[]): Promise<string[]> {
    const rows = await this.client.query(this.junctionQuery([dealId]), 'find solution rows');
    const wanted = new Set(solutions.map((s) => s.id));
    return rows
      .filter((row) => wanted.has(catalogueIdOf(row, this.settings) ?? ''))
      .map((row) => String(row.Id));
  }

  /** Referral id, link, Microsoft CRM id and the audit line; written with the data in one request. */
  private syncFieldsBody(sync: SyncWrite, current: Deal | null, org: OrgShape): SfRecord {
    const f = this.settings.fields;
    const body: SfRecord = {};
    if (sync.referralId !== undefined && current) body[f.referralId] = sync.referralId;
    if (sync.referralLink !== undefined) body[f.referralLink] = sync.referralLink;
    if (sync.microsoftCrmId !== undefined) body[f.microsoftCrmId] = sync.microsoftCrmId;
    if (sync.auditLine) body[f.audit] = appendAuditLine(current?.audit, sync.auditLine, org.auditMaxLength);
    return body;
  }

  private leadFields(patch: DealPatch): SfRecord {
    const rec: SfRecord = {};
    const fields = patch.fields ?? {};
    if (fields.stage !== undefined) rec.Status = fields.stage;
    if (fields.notes !== undefined) rec.Description = fields.notes;
    if (fields.syncWithPartnerCenter !== undefined)
      rec[this.settings.fields.syncFlag] = fields.syncWithPartnerCenter ?? false;
    return rec;
  }
}

/** Whether an account row is one `match` means (SOQL compares text without case). */
function matchesAccount(row: SfRecord, match: AccountMatch, org: OrgShape): boolean {
  const same = (a: unknown, b: string) => typeof a === 'string' && a.toLowerCase() === b.toLowerCase();
  if (match.duns && org.accountDunsField && row[org.accountDunsField] === match.duns) return true;
  return same(row.Name, match.name) && (!match.postalCode || same(row.BillingPostalCode, match.postalCode));
}

/** Planned creates in groups one `/composite/graph` call takes (its graph and node limits). */
function graphGroups(planned: PlannedCreate[]): PlannedCreate[][] {
  const groups: PlannedCreate[][] = [];
  let group: PlannedCreate[] = [];
  let nodes = 0;
  for (const p of planned) {
    const size = p.plan.subrequests.length;
    if (group.length > 0 && (group.length >= GRAPH_MAX_GRAPHS || nodes + size > GRAPH_MAX_NODES)) {
      groups.push(group);
      group = [];
      nodes = 0;
    }
    group.push(p);
    nodes += size;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

function accountMatchOf(account: AccountInput): AccountMatch {
  return { name: account.name, duns: account.duns ?? null, postalCode: account.address?.postalCode ?? null };
}

function sameEmail(a: string | null | undefined, b: string | null | undefined): boolean {
  return Boolean(a && b && a.toLowerCase() === b.toLowerCase());
}

function findContact(existing: SfRecord[], input: ContactInput, accountId: string): SfRecord | undefined {
  return existing.find(
    (row) => row.AccountId === accountId && sameEmail(row.Email as string | null, input.email),
  );
}

function normaliseContact(input: ContactInput): Contact {
  return {
    id: input.id ?? null,
    firstName: input.firstName ?? null,
    lastName: input.lastName,
    email: input.email ?? null,
    phone: input.phone ?? null,
    role: input.role ?? null,
    isPrimary: input.isPrimary ?? null,
  };
}

function catalogueIdOf(row: SfRecord, settings: SalesforceSettings): string | undefined {
  const parent = row[relationshipOf(settings.solutions.junctionSolution)] as SfRecord | null | undefined;
  const id = parent?.[settings.solutions.catalogueSolutionId];
  return typeof id === 'string' ? id : undefined;
}

function idOf(sub: CompositeSubresponse | undefined): string | undefined {
  const body = sub?.body as { id?: unknown } | undefined;
  return typeof body?.id === 'string' ? body.id : undefined;
}

function strOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function unexpected(operation: string, what: string, record?: string): CrmError {
  return new CrmError({
    crm: 'salesforce',
    operation,
    ...(record ? { record } : {}),
    message: `Salesforce ${operation}: ${what}.`,
    fix: 'This is a bug or an unexpected answer from Salesforce; report it with the run id.',
  });
}
