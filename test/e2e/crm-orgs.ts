// One emulated CRM org per CRM kind, behind the same small interface, so suites run one body on every CRM
// (describe.each(CRM_ORGS)). Each factory starts its emulator on port 0 and connects the real adapter to it over
// HTTP; `seller` acts in the CRM's UI (the emulator's control API, never counted as API calls).
import { startDynamicsEmulator } from '../../emulators/dynamics/index.ts';
import { startSalesforceEmulator } from '../../emulators/salesforce/index.ts';
import { control } from '../../src/cli/demo-story.ts';
import { DynamicsAdapter } from '../../src/crm/dynamics/adapter.ts';
import { dynamicsConnectionSchema } from '../../src/crm/dynamics/settings.ts';
import type { CrmAdapter, CrmKind } from '../../src/crm/port.ts';
import { SalesforceAdapter } from '../../src/crm/salesforce/adapter.ts';
import { salesforceConnectionSchema } from '../../src/crm/salesforce/settings.ts';

/** What a seller does by hand, in CRM-neutral words. */
export interface CrmSeller {
  /** Edits a deal as a seller would (notes, value), bumping its modified stamp. */
  editDeal(id: string, fields: { notes?: string; value?: number }): Promise<void>;
  deleteDeal(id: string): Promise<void>;
  /** Renames an account (a change of a record related to its deals). */
  renameAccount(id: string, name: string): Promise<void>;
  /** Converts (Salesforce) or qualifies (Dynamics 365) a lead into a new opportunity; returns its id. */
  convertLead(id: string): Promise<string>;
}

export interface TestOrg {
  kind: CrmKind;
  adapter: CrmAdapter;
  seller: CrmSeller;
  close(): Promise<void>;
}

export interface TestOrgOptions {
  multiCurrency?: boolean;
  /** Corporate currency of a single-currency org. */
  currency?: string;
}

async function salesforceOrg(options: TestOrgOptions = {}): Promise<TestOrg> {
  const emulator = await startSalesforceEmulator({
    port: 0,
    host: '127.0.0.1',
    multiCurrency: options.multiCurrency ?? true,
    ...(options.currency ? { currency: options.currency } : {}),
  });
  const info = emulator.info;
  const adapter = await SalesforceAdapter.connect(
    salesforceConnectionSchema.parse({
      loginUrl: info.loginUrl,
      apiVersion: info.apiVersion,
      auth: { grant: 'client-credentials', clientId: info.clientId, clientSecret: info.clientSecret },
    }),
    {},
    { sleep: async () => {}, random: () => 0 },
  );
  const ui = (method: string, path: string, body?: unknown) => control(info.control, method, path, body);
  return {
    kind: 'salesforce',
    adapter,
    seller: {
      async editDeal(id, fields) {
        await ui('PATCH', `/ui/Opportunity/${id}`, {
          ...(fields.notes !== undefined ? { Description: fields.notes } : {}),
          ...(fields.value !== undefined ? { Amount: fields.value } : {}),
        });
      },
      async deleteDeal(id) {
        await ui('DELETE', `/ui/Opportunity/${id}`);
      },
      async renameAccount(id, name) {
        await ui('PATCH', `/ui/Account/${id}`, { Name: name });
      },
      async convertLead(id) {
        return ((await ui('POST', `/ui/Lead/${id}/convert`, {})) as { opportunityId: string }).opportunityId;
      },
    },
    close: () => emulator.close(),
  };
}

async function dynamicsOrg(options: TestOrgOptions = {}): Promise<TestOrg> {
  const emulator = await startDynamicsEmulator({
    port: 0,
    host: '127.0.0.1',
    multiCurrency: options.multiCurrency ?? true,
    ...(options.currency ? { currency: options.currency } : {}),
  });
  const info = emulator.info;
  const adapter = await DynamicsAdapter.connect(
    dynamicsConnectionSchema.parse({
      url: info.url,
      tenantId: info.tenantId,
      authorityHost: info.authorityHost,
      auth: { grant: 'client-secret', clientId: info.clientId, clientSecret: info.clientSecret },
    }),
    {},
    { sleep: async () => {}, random: () => 0 },
  );
  const ui = (method: string, path: string, body?: unknown) => control(info.control, method, path, body);
  return {
    kind: 'dynamics',
    adapter,
    seller: {
      async editDeal(id, fields) {
        await ui('PATCH', `/ui/opportunities/${id}`, {
          ...(fields.notes !== undefined ? { description: fields.notes } : {}),
          ...(fields.value !== undefined ? { estimatedvalue: fields.value } : {}),
        });
      },
      async deleteDeal(id) {
        await ui('DELETE', `/ui/opportunities/${id}`);
      },
      async renameAccount(id, name) {
        await ui('PATCH', `/ui/accounts/${id}`, { name });
      },
      async convertLead(id) {
        const created = (await ui('POST', `/ui/leads/${id}/qualify`, {})) as {
          value: { opportunityid?: string }[];
        };
        return String(created.value.find((r) => r.opportunityid)?.opportunityid);
      },
    },
    close: () => emulator.close(),
  };
}

/** Every CRM cosell supports, by kind. */
export const CRM_ORGS: readonly { kind: CrmKind; start: (options?: TestOrgOptions) => Promise<TestOrg> }[] = [
  { kind: 'salesforce', start: salesforceOrg },
  { kind: 'dynamics', start: dynamicsOrg },
];
