// A seller at the CRM's UI, in CRM-neutral words, one implementation per emulator: what the engine suites do
// to and read from the CRM without naming a Salesforce field or a Dataverse column. Everything goes through
// the emulators' control APIs (never counted as API calls), except where noted.

import { control } from '../../src/cli/demo-story.ts';
import type { AssistanceRequestCode } from '../../src/core/referral.ts';
import { ASSISTANCE_CHOICES } from '../../src/crm/dynamics/fields.ts';
import type { CrmKind } from '../../src/crm/port.ts';
import { ASSISTANCE_PICKLIST } from '../../src/crm/salesforce/fields.ts';

/** What a seller types into an opportunity. */
export interface SellerFields {
  name?: string;
  value?: number;
  notes?: string;
  closeDate?: string;
  currency?: string;
  sync?: boolean;
  assistance?: Exclude<AssistanceRequestCode, 'Unknown'> | null;
  /** Microsoft Partner Center Referral Visibility (R14). */
  visible?: boolean;
  /** Referral Identifier as the Power Automate connector left it on an existing installation (R32). */
  referralId?: string;
  /** Services co-sell (R11). */
  partnerRole?: string | null;
  solutionArea?: string | null;
  solutionPlay?: string | null;
}

/** An opportunity as stored (the name with its ✔/✖ as the CRM shows it). */
export interface StoredOpportunity {
  name: string;
  value: number | null;
  notes: string | null;
  closeDate: string | null;
  currency: string | null;
  assistance: string | null;
  stage: string | null;
  referralId: string | null;
  referralLink: string | null;
  microsoftCrmId: string | null;
  visibleToMicrosoft: boolean;
  audit: string | null;
  closed: boolean;
  /** An incoming referral not answered yet: the on-hold stage / On Hold status (R8). */
  onHold: boolean;
  ownerId: string | null;
  /** R30: when Partner Center expires the unanswered referral (ISO), empty once answered. */
  responseDeadline: string | null;
  partnerRole: string | null;
  solutionArea: string | null;
  solutionPlay: string | null;
}

export interface SellerOpportunityOptions {
  /** null: the account has no country (R12). */
  country?: string | null;
  contact?: boolean;
  solution?: boolean;
  sync?: boolean;
  /** "How can Microsoft help?" (default ProofOfConceptOrDemo); null leaves it empty. */
  assistance?: SellerFields['assistance'];
}

export interface CrmFault {
  count: number;
  status: number;
  message?: string;
}

export interface CrmDesk {
  kind: CrmKind;
  createAccount(account: {
    name: string;
    street?: string;
    city?: string;
    postalCode?: string;
    country?: string | null;
  }): Promise<string>;
  createOpportunity(accountId: string, fields: SellerFields & { name: string }): Promise<string>;
  createContact(
    accountId: string,
    contact: { firstName: string; lastName: string; email: string },
  ): Promise<string>;
  /** A co-sell opportunity as the UI saves it: account, opportunity, contact, solution, then "Sync" ticked. */
  opportunity(
    options?: SellerOpportunityOptions,
  ): Promise<{ accountId: string; opportunityId: string; contactId: string }>;
  addContact(opportunityId: string, contactId: string): Promise<void>;
  addSolution(opportunityId: string, solutionId: string): Promise<void>;
  edit(opportunityId: string, fields: SellerFields): Promise<void>;
  /** Edits the raw stored name (e.g. a seller typing a ✔ into it). */
  editAccountCountry(accountId: string, country: string | null): Promise<void>;
  /** The emulator's seeded seller, a CRM user other than cosell's integration user (R29). */
  seller(): Promise<{ id: string; email: string }>;
  /** Moves an incoming referral's opportunity out of on-hold (the seller accepts it, R8). */
  accept(opportunityId: string): Promise<void>;
  /** Converts (Salesforce) / qualifies (Dynamics 365) a lead; returns the new opportunity's id (R9). */
  convertLead(leadId: string): Promise<string>;
  /** A lead the seller types in (no sync ticked). */
  createLead(lead: { lastName: string; company: string; email?: string }): Promise<string>;
  /** The seller writes a note on a lead in the UI (its description). */
  noteLead(leadId: string, note: string): Promise<void>;
  /** A lead as stored: its sync fields and audit lines, or null once it is gone. */
  readLead(leadId: string): Promise<{ referralId: string | null; sync: boolean; audit: string[] } | null>;
  /** The seller merges `duplicateId` into `masterId` in the UI (R31): leads or accounts. */
  merge(kind: 'lead' | 'account', masterId: string, duplicateId: string): Promise<void>;
  /** The account of an opportunity. */
  accountOf(opportunityId: string): Promise<string | null>;
  win(opportunityId: string): Promise<void>;
  /** The seller deletes the opportunity (R31). */
  remove(opportunityId: string): Promise<void>;
  lose(opportunityId: string): Promise<void>;
  read(opportunityId: string): Promise<StoredOpportunity>;
  /** One field of the opportunity by its CRM name, as stored (R22 extra fields). */
  field(opportunityId: string, name: string): Promise<unknown>;
  /** The seller sets one field of the opportunity by its CRM name. */
  setField(opportunityId: string, name: string, value: unknown): Promise<void>;
  auditLines(opportunityId: string): Promise<string[]>;
  /** Ids of the opportunities carrying this referral id (one expected). */
  withReferral(referralId: string): Promise<string[]>;
  /** Ids of the accounts with this name. */
  accountsNamed(name: string): Promise<string[]>;
  /** Ids of the contacts with this email. */
  contactsWithEmail(email: string): Promise<string[]>;
  /** Every opportunity's stored name (with its ✔/✖), by id. */
  opportunityNames(): Promise<Record<string, string>>;
  /** An id of this CRM's opportunity format that names no record. */
  missingOpportunityId: string;
  /** Ids and change stamps of every opportunity and account: a dry run must leave them as they are. */
  snapshot(): Promise<Record<string, string>>;
  calls(): Promise<{ apiCalls: number; byEndpoint: Record<string, number> }>;
  /** The CRM refuses new records (a validation rule / plug-in of the org) with `message`. */
  refuseCreates(fault: CrmFault): Promise<void>;
  /** Updates of opportunities fail with `status` (e.g. 503). */
  failUpdates(fault: CrmFault): Promise<void>;
  clearFaults(): Promise<void>;
}

// The shipped values (a test may rename them in the org, see engine-value-maps.test.ts).
const SF_ASSISTANCE: Record<string, string> = ASSISTANCE_PICKLIST;
const DV_ASSISTANCE: Record<string, number> = ASSISTANCE_CHOICES;
const COUNTRY_NAMES: Record<string, string> = {
  US: 'United States',
  GB: 'United Kingdom',
  DE: 'Germany',
  FR: 'France',
};
const lines = (audit: string | null) =>
  String(audit ?? '')
    .split('\n')
    .filter(Boolean);

/** The shared part: a seller building co-sell opportunities from the primitives. */
function withSellerFlow(desk: Omit<CrmDesk, 'opportunity'>): CrmDesk {
  let seq = 0;
  return {
    ...desk,
    async opportunity(options = {}) {
      seq++;
      const accountId = await desk.createAccount({
        name: `Northwind ${seq}`,
        street: '1 Harbour Rd',
        city: 'Seattle',
        postalCode: '98101',
        country: options.country === null ? null : (options.country ?? 'US'),
      });
      const opportunityId = await desk.createOpportunity(accountId, {
        name: `Northwind migration ${seq}`,
        closeDate: '2027-06-30',
        value: 120_000,
        currency: 'USD',
        notes: 'Move 200 VMs to Azure.',
        assistance: options.assistance === undefined ? 'ProofOfConceptOrDemo' : options.assistance,
      });
      const contactId = await desk.createContact(accountId, {
        firstName: 'Nancy',
        lastName: `Davolio ${seq}`,
        email: `nancy${seq}@northwind.example`,
      });
      if (options.contact !== false) await desk.addContact(opportunityId, contactId);
      if (options.solution !== false) await desk.addSolution(opportunityId, 'SOL-34104-EBB');
      // Ticked last, as a seller does once the deal is ready to share.
      if (options.sync !== false) await desk.edit(opportunityId, { sync: true });
      return { accountId, opportunityId, contactId };
    },
  };
}

export function salesforceDesk(controlUrl: string): CrmDesk {
  const c = <T>(method: string, path: string, body?: unknown) => control<T>(controlUrl, method, path, body);
  const create = async (sobject: string, record: Record<string, unknown>) =>
    (await c<{ id: string }>('POST', `/ui/${sobject}`, record)).id;
  const read = (sobject: string, id: string) => c<Record<string, unknown>>('GET', `/ui/${sobject}/${id}`);
  const query = async (soql: string) =>
    (await c<{ records: Record<string, unknown>[] }>('GET', `/ui/query?q=${encodeURIComponent(soql)}`))
      .records;
  const catalogue = new Map<string, string>();
  const fields = (f: SellerFields): Record<string, unknown> => ({
    ...(f.name !== undefined ? { Name: f.name } : {}),
    ...(f.value !== undefined ? { Amount: f.value } : {}),
    ...(f.notes !== undefined ? { Description: f.notes } : {}),
    ...(f.closeDate !== undefined ? { CloseDate: f.closeDate } : {}),
    ...(f.currency !== undefined ? { CurrencyIsoCode: f.currency } : {}),
    ...(f.sync !== undefined ? { Sync_with_Partner_Center__c: f.sync } : {}),
    ...(f.referralId !== undefined ? { Referral_Identifier__c: f.referralId } : {}),
    ...(f.visible !== undefined ? { Referral_Visibility__c: f.visible } : {}),
    ...(f.assistance !== undefined
      ? { How_can_Microsoft_help__c: f.assistance ? SF_ASSISTANCE[f.assistance] : null }
      : {}),
    ...(f.partnerRole !== undefined ? { Partner_Role__c: f.partnerRole } : {}),
    ...(f.solutionArea !== undefined ? { Solution_Area__c: f.solutionArea } : {}),
    ...(f.solutionPlay !== undefined ? { Solution_Play__c: f.solutionPlay } : {}),
  });
  return withSellerFlow({
    kind: 'salesforce',
    createAccount: (a) =>
      create('Account', {
        Name: a.name,
        ...(a.street ? { BillingStreet: a.street } : {}),
        ...(a.city ? { BillingCity: a.city } : {}),
        ...(a.postalCode ? { BillingPostalCode: a.postalCode } : {}),
        ...(a.country ? { BillingCountry: COUNTRY_NAMES[a.country] ?? a.country } : {}),
      }),
    createOpportunity: (accountId, f) =>
      create('Opportunity', {
        StageName: 'Qualification',
        CloseDate: '2027-06-30',
        AccountId: accountId,
        ...fields(f),
      }),
    createContact: (accountId, contact) =>
      create('Contact', {
        FirstName: contact.firstName,
        LastName: contact.lastName,
        Email: contact.email,
        AccountId: accountId,
      }),
    async addContact(opportunityId, contactId) {
      await create('OpportunityContactRole', {
        OpportunityId: opportunityId,
        ContactId: contactId,
        Role: 'Business User',
      });
    },
    async addSolution(opportunityId, solutionId) {
      let rowId = catalogue.get(solutionId);
      if (!rowId) {
        rowId = await create('Microsoft_Solution_Detail__c', {
          Name: solutionId,
          Solution_Id__c: solutionId,
          Solution_Name__c: `Solution ${solutionId}`,
        });
        catalogue.set(solutionId, rowId);
      }
      await create('Microsoft_Partner_Center_Solution__c', {
        Opportunity__c: opportunityId,
        Solution__c: rowId,
      });
    },
    async edit(id, f) {
      await c('PATCH', `/ui/Opportunity/${id}`, fields(f));
    },
    async field(id, name) {
      return (await read('Opportunity', id))[name];
    },
    async setField(id, name, value) {
      await c('PATCH', `/ui/Opportunity/${id}`, { [name]: value });
    },
    async editAccountCountry(id, country) {
      await c('PATCH', `/ui/Account/${id}`, {
        BillingCountry: country ? (COUNTRY_NAMES[country] ?? country) : null,
      });
    },
    async seller() {
      const [user] = await query(
        "SELECT Id, Email FROM User WHERE Username = 'seller@cosell-emulator.example'",
      );
      return { id: String(user!.Id), email: String(user!.Email) };
    },
    async accept(id) {
      await c('PATCH', `/ui/Opportunity/${id}`, { StageName: 'Qualification' });
    },
    async convertLead(id) {
      return (await c<{ opportunityId: string }>('POST', `/ui/Lead/${id}/convert`, {})).opportunityId;
    },
    async remove(id) {
      await c('DELETE', `/ui/Opportunity/${id}`);
    },
    createLead: (lead) =>
      create('Lead', {
        LastName: lead.lastName,
        Company: lead.company,
        ...(lead.email ? { Email: lead.email } : {}),
      }),
    async noteLead(id, note) {
      await c('PATCH', `/ui/Lead/${id}`, { Description: note });
    },
    async readLead(id) {
      const [row] = await query(
        `SELECT Sync_with_Partner_Center__c, Referral_Identifier__c, Audit__c FROM Lead WHERE Id = '${id}'`,
      );
      if (!row) return null;
      return {
        referralId: (row.Referral_Identifier__c as string | null) ?? null,
        sync: row.Sync_with_Partner_Center__c === true,
        audit: lines(row.Audit__c as string | null),
      };
    },
    async merge(kind, masterId, duplicateId) {
      await c('POST', `/ui/${kind === 'lead' ? 'Lead' : 'Account'}/${masterId}/merge`, {
        mergeIds: [duplicateId],
      });
    },
    async accountOf(id) {
      return ((await read('Opportunity', id)).AccountId as string | null) ?? null;
    },
    async win(id) {
      await c('PATCH', `/ui/Opportunity/${id}`, { StageName: 'Closed Won' });
    },
    async lose(id) {
      await c('PATCH', `/ui/Opportunity/${id}`, { StageName: 'Closed Lost' });
    },
    async read(id) {
      const o = await read('Opportunity', id);
      const assistance =
        Object.entries(SF_ASSISTANCE).find(([, label]) => label === o.How_can_Microsoft_help__c)?.[0] ?? null;
      return {
        name: String(o.Name),
        value: typeof o.Amount === 'number' ? o.Amount : null,
        notes: (o.Description as string | null) ?? null,
        closeDate: (o.CloseDate as string | null) ?? null,
        currency: (o.CurrencyIsoCode as string | null) ?? null,
        assistance,
        stage: (o.StageName as string | null) ?? null,
        referralId: (o.Referral_Identifier__c as string | null) ?? null,
        referralLink: (o.Referral_Link__c as string | null) ?? null,
        microsoftCrmId: (o.Microsoft_CRM_Identifier__c as string | null) ?? null,
        visibleToMicrosoft: o.Referral_Visibility__c === true,
        audit: (o.Audit__c as string | null) ?? null,
        closed: o.StageName === 'Closed Won' || o.StageName === 'Closed Lost',
        onHold: o.StageName === 'Prospecting',
        ownerId: (o.OwnerId as string | null) ?? null,
        responseDeadline: (o.Response_Deadline__c as string | null) ?? null,
        partnerRole: (o.Partner_Role__c as string | null) ?? null,
        solutionArea: (o.Solution_Area__c as string | null) ?? null,
        solutionPlay: (o.Solution_Play__c as string | null) ?? null,
      };
    },
    async auditLines(id) {
      return lines((await read('Opportunity', id)).Audit__c as string | null);
    },
    async accountsNamed(name) {
      const rows = await query(`SELECT Id FROM Account WHERE Name = '${name.replace(/'/g, "\\'")}'`);
      return rows.map((r) => String(r.Id));
    },
    async contactsWithEmail(email) {
      const rows = await query(`SELECT Id FROM Contact WHERE Email = '${email.replace(/'/g, "\\'")}'`);
      return rows.map((r) => String(r.Id));
    },
    async withReferral(referralId) {
      const rows = await query(
        `SELECT Id FROM Opportunity WHERE Referral_Identifier__c = '${referralId.replace(/'/g, "\\'")}'`,
      );
      return rows.map((r) => String(r.Id));
    },
    async opportunityNames() {
      return Object.fromEntries(
        (await query('SELECT Id, Name FROM Opportunity')).map((r) => [String(r.Id), String(r.Name)]),
      );
    },
    missingOpportunityId: '006000000000000AAA',
    async snapshot() {
      const out: Record<string, string> = {};
      for (const sobject of [
        'Opportunity',
        'Lead',
        'Account',
        'Contact',
        'OpportunityContactRole',
        'Microsoft_Partner_Center_Solution__c',
      ]) {
        for (const row of await query(`SELECT Id, SystemModstamp FROM ${sobject}`))
          out[String(row.Id)] = String(row.SystemModstamp);
      }
      return out;
    },
    calls: () => c<{ apiCalls: number; byEndpoint: Record<string, number> }>('GET', '/calls'),
    async refuseCreates(fault) {
      await c('POST', '/faults', {
        method: 'POST',
        path: '/composite',
        status: fault.status,
        errorCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION',
        message: fault.message ?? 'Refused by a validation rule.',
        count: fault.count,
      });
    },
    async failUpdates(fault) {
      await c('POST', '/faults', {
        method: 'PATCH',
        path: '/sobjects/Opportunity/',
        status: fault.status,
        count: fault.count,
      });
    },
    async clearFaults() {
      await c('DELETE', '/faults');
    },
  });
}

export function dynamicsDesk(controlUrl: string, prefix = 'cosell'): CrmDesk {
  const c = <T>(method: string, path: string, body?: unknown) => control<T>(controlUrl, method, path, body);
  const p = `${prefix}_`;
  const create = async (set: string, row: Record<string, unknown>, id: string) =>
    String((await c<Record<string, unknown>>('POST', `/ui/${set}`, row))[id]);
  const read = (set: string, id: string) => c<Record<string, unknown>>('GET', `/ui/${set}/${id}`);
  const list = async (set: string, query: string) =>
    (await c<{ value: Record<string, unknown>[] }>('GET', `/ui/${set}?${query}`)).value;
  const catalogue = new Map<string, string>();
  let currencies: Map<string, string> | undefined;
  const currencyId = async (code: string) => {
    currencies ??= new Map(
      (await list('transactioncurrencies', '$select=isocurrencycode')).map((r) => [
        String(r.isocurrencycode),
        String(r.transactioncurrencyid),
      ]),
    );
    return currencies.get(code);
  };
  const columns = async (f: SellerFields): Promise<Record<string, unknown>> => ({
    ...(f.name !== undefined ? { name: f.name } : {}),
    ...(f.value !== undefined ? { estimatedvalue: f.value } : {}),
    ...(f.notes !== undefined ? { description: f.notes } : {}),
    ...(f.closeDate !== undefined ? { estimatedclosedate: f.closeDate } : {}),
    ...(f.currency !== undefined
      ? { 'transactioncurrencyid@odata.bind': `/transactioncurrencies(${await currencyId(f.currency)})` }
      : {}),
    ...(f.sync !== undefined ? { [`${p}syncwithpartnercenter`]: f.sync } : {}),
    ...(f.referralId !== undefined ? { [`${p}referralidentifier`]: f.referralId } : {}),
    ...(f.visible !== undefined ? { [`${p}referralvisibility`]: f.visible ? 100000001 : 100000000 } : {}),
    ...(f.assistance !== undefined
      ? { [`${p}howcanmicrosofthelp`]: f.assistance ? DV_ASSISTANCE[f.assistance] : null }
      : {}),
    ...(f.partnerRole !== undefined ? { [`${p}partnerrole`]: f.partnerRole } : {}),
    ...(f.solutionArea !== undefined ? { [`${p}solutionarea`]: f.solutionArea } : {}),
    ...(f.solutionPlay !== undefined ? { [`${p}solutionplay`]: f.solutionPlay } : {}),
  });
  return withSellerFlow({
    kind: 'dynamics',
    createAccount: (a) =>
      create(
        'accounts',
        {
          name: a.name,
          ...(a.street ? { address1_line1: a.street } : {}),
          ...(a.city ? { address1_city: a.city } : {}),
          ...(a.postalCode ? { address1_postalcode: a.postalCode } : {}),
          ...(a.country ? { address1_country: a.country } : {}),
        },
        'accountid',
      ),
    createOpportunity: async (accountId, f) =>
      create(
        'opportunities',
        {
          'customerid_account@odata.bind': `/accounts(${accountId})`,
          'parentaccountid@odata.bind': `/accounts(${accountId})`,
          ...(await columns(f)),
        },
        'opportunityid',
      ),
    createContact: (accountId, contact) =>
      create(
        'contacts',
        {
          firstname: contact.firstName,
          lastname: contact.lastName,
          emailaddress1: contact.email,
          'parentcustomerid_account@odata.bind': `/accounts(${accountId})`,
        },
        'contactid',
      ),
    async addContact(opportunityId, contactId) {
      await create(
        'connections',
        {
          'record1id_opportunity@odata.bind': `/opportunities(${opportunityId})`,
          'record2id_contact@odata.bind': `/contacts(${contactId})`,
        },
        'connectionid',
      );
    },
    async addSolution(opportunityId, solutionId) {
      let rowId = catalogue.get(solutionId);
      if (!rowId) {
        rowId = await create(
          `${p}microsoftsolutiondetails`,
          { [`${p}name`]: `Solution ${solutionId}`, [`${p}solutionid`]: solutionId },
          `${p}microsoftsolutiondetailid`,
        );
        catalogue.set(solutionId, rowId);
      }
      await create(
        `${p}microsoftpartnercentersolutions`,
        {
          [`${p}name`]: solutionId,
          [`${prefix}_OpportunityId@odata.bind`]: `/opportunities(${opportunityId})`,
          [`${prefix}_SolutionDetailId@odata.bind`]: `/${p}microsoftsolutiondetails(${rowId})`,
        },
        `${p}microsoftpartnercentersolutionid`,
      );
    },
    async edit(id, f) {
      await c('PATCH', `/ui/opportunities/${id}`, await columns(f));
    },
    async field(id, name) {
      return (await read('opportunities', id))[name];
    },
    async setField(id, name, value) {
      await c('PATCH', `/ui/opportunities/${id}`, { [name]: value });
    },
    async editAccountCountry(id, country) {
      await c('PATCH', `/ui/accounts/${id}`, { address1_country: country });
    },
    async seller() {
      const [user] = await list(
        'systemusers',
        `$select=systemuserid,internalemailaddress&$filter=${encodeURIComponent("fullname eq 'Sam Seller'")}`,
      );
      return { id: String(user!.systemuserid), email: String(user!.internalemailaddress) };
    },
    async accept(id) {
      await c('PATCH', `/ui/opportunities/${id}`, { statuscode: 1 });
    },
    async convertLead(id) {
      const created = await c<{ value: { opportunityid?: string }[] }>('POST', `/ui/leads/${id}/qualify`, {});
      return String(created.value.find((r) => r.opportunityid)?.opportunityid);
    },
    async remove(id) {
      await c('DELETE', `/ui/opportunities/${id}`);
    },
    createLead: (lead) =>
      create(
        'leads',
        {
          subject: `${lead.company} lead`,
          lastname: lead.lastName,
          companyname: lead.company,
          ...(lead.email ? { emailaddress1: lead.email } : {}),
        },
        'leadid',
      ),
    async noteLead(id, note) {
      await c('PATCH', `/ui/leads/${id}`, { description: note });
    },
    async readLead(id) {
      const row = await read('leads', id).catch(() => null);
      if (!row) return null;
      return {
        referralId: (row[`${p}referralidentifier`] as string | null) ?? null,
        sync: row[`${p}syncwithpartnercenter`] === true,
        audit: lines(row[`${p}audit`] as string | null),
      };
    },
    async merge(kind, masterId, duplicateId) {
      await c('POST', `/ui/${kind === 'lead' ? 'leads' : 'accounts'}/${masterId}/merge`, {
        subordinateId: duplicateId,
      });
    },
    async accountOf(id) {
      return ((await read('opportunities', id))._parentaccountid_value as string | null) ?? null;
    },
    async win(id) {
      await c('POST', `/ui/opportunities/${id}/win`, {});
    },
    async lose(id) {
      await c('POST', `/ui/opportunities/${id}/lose`, {});
    },
    async read(id) {
      const o = await read('opportunities', id);
      const assistance =
        Object.entries(DV_ASSISTANCE).find(([, v]) => v === o[`${p}howcanmicrosofthelp`])?.[0] ?? null;
      const currency =
        typeof o._transactioncurrencyid_value === 'string' ? String(o._transactioncurrencyid_value) : null;
      let code: string | null = null;
      if (currency) {
        await currencyId('USD');
        code =
          [...(currencies ?? new Map<string, string>()).entries()].find(([, v]) => v === currency)?.[0] ??
          null;
      }
      const state = Number(o.statecode);
      return {
        name: String(o.name),
        value: typeof o.estimatedvalue === 'number' ? o.estimatedvalue : null,
        notes: (o.description as string | null) ?? null,
        closeDate: (o.estimatedclosedate as string | null) ?? null,
        currency: code,
        assistance,
        stage: state === 1 ? 'Won' : state === 2 ? 'Lost' : ((o.stepname as string | null) ?? null),
        referralId: (o[`${p}referralidentifier`] as string | null) ?? null,
        referralLink: (o[`${p}referrallink`] as string | null) ?? null,
        microsoftCrmId: (o[`${p}microsoftcrmidentifier`] as string | null) ?? null,
        visibleToMicrosoft: o[`${p}referralvisibility`] === 100000001,
        audit: (o[`${p}audit`] as string | null) ?? null,
        closed: state !== 0,
        onHold: state === 0 && Number(o.statuscode) === 2,
        ownerId: (o._ownerid_value as string | null) ?? null,
        responseDeadline: (o[`${p}responsedeadline`] as string | null) ?? null,
        partnerRole: (o[`${p}partnerrole`] as string | null) ?? null,
        solutionArea: (o[`${p}solutionarea`] as string | null) ?? null,
        solutionPlay: (o[`${p}solutionplay`] as string | null) ?? null,
      };
    },
    async auditLines(id) {
      return lines((await read('opportunities', id))[`${p}audit`] as string | null);
    },
    async accountsNamed(name) {
      const rows = await list(
        'accounts',
        `$select=accountid&$filter=${encodeURIComponent(`name eq '${name.replace(/'/g, "''")}'`)}`,
      );
      return rows.map((r) => String(r.accountid));
    },
    async contactsWithEmail(email) {
      const rows = await list(
        'contacts',
        `$select=contactid&$filter=${encodeURIComponent(`emailaddress1 eq '${email.replace(/'/g, "''")}'`)}`,
      );
      return rows.map((r) => String(r.contactid));
    },
    async withReferral(referralId) {
      const rows = await list(
        'opportunities',
        `$select=opportunityid&$filter=${encodeURIComponent(`${p}referralidentifier eq '${referralId.replace(/'/g, "''")}'`)}`,
      );
      return rows.map((r) => String(r.opportunityid));
    },
    async opportunityNames() {
      return Object.fromEntries(
        (await list('opportunities', '$select=opportunityid,name')).map((r) => [
          String(r.opportunityid),
          String(r.name),
        ]),
      );
    },
    missingOpportunityId: '00000000-0000-4000-8000-0000000000aa',
    async snapshot() {
      const out: Record<string, string> = {};
      for (const [set, id] of [
        ['opportunities', 'opportunityid'],
        ['leads', 'leadid'],
        ['accounts', 'accountid'],
        ['contacts', 'contactid'],
        ['connections', 'connectionid'],
        [`${p}microsoftpartnercentersolutions`, `${p}microsoftpartnercentersolutionid`],
      ] as const) {
        for (const row of await list(set, `$select=${id},modifiedon`))
          out[String(row[id])] = String(row['@odata.etag']);
      }
      return out;
    },
    calls: () => c<{ apiCalls: number; byEndpoint: Record<string, number> }>('GET', '/calls'),
    async refuseCreates(fault) {
      await c('POST', '/faults', {
        method: 'POST',
        path: '/$batch',
        status: fault.status,
        code: '0x80040265',
        message: fault.message ?? 'Refused by a plug-in.',
        count: fault.count,
      });
    },
    async failUpdates(fault) {
      await c('POST', '/faults', {
        method: 'PATCH',
        path: '/opportunities(',
        status: fault.status,
        count: fault.count,
      });
    },
    async clearFaults() {
      await c('DELETE', '/faults');
    },
  });
}
