// What the harness does as sellers and reads back, per CRM, through the emulators' control APIs (never counted
// as API calls, so the harness costs cosell no budget).
import { control, microsoftReferralBody } from '../src/cli/demo-story.ts';
import { type CrmKind, DEMO_CRMS } from './deployment.ts';

/** An opportunity as the harness checks it. */
export interface CrmRecord {
  id: string;
  name: string;
  referralId: string | null;
  value: number | null;
}

export interface CrmSide {
  addCatalogueSolution(): Promise<string>;
  share(input: { name: string; accountName: string; solutionId: string }): Promise<string>;
  setValue(id: string, value: number): Promise<void>;
  opportunities(): Promise<CrmRecord[]>;
}

const catalogue = new Map<string, Promise<string>>();

export function crmSide(crm: CrmKind, controlUrl: string): CrmSide {
  const demo = DEMO_CRMS[crm];
  const common = {
    addCatalogueSolution: () => {
      // The catalogue row is unique by solution id: added once per CRM emulator.
      const row = catalogue.get(controlUrl) ?? demo.addCatalogueSolution(controlUrl);
      catalogue.set(controlUrl, row);
      return row;
    },
    share: async (input: { name: string; accountName: string; solutionId: string }) =>
      (await demo.shareSellerOpportunity(controlUrl, { ...input, country: 'US' })).opportunityId,
  };
  if (crm === 'salesforce') {
    return {
      ...common,
      async setValue(id, value) {
        await control(controlUrl, 'PATCH', `/ui/Opportunity/${id}`, { Amount: value });
      },
      async opportunities() {
        const soql = 'SELECT Id, Name, Referral_Identifier__c, Amount FROM Opportunity';
        const page = await control<{ records: Record<string, unknown>[] }>(
          controlUrl,
          'GET',
          `/ui/query?q=${encodeURIComponent(soql)}`,
        );
        return page.records.map((r) => ({
          id: String(r['Id']),
          name: String(r['Name'] ?? ''),
          referralId: (r['Referral_Identifier__c'] as string | null) ?? null,
          value: (r['Amount'] as number | null) ?? null,
        }));
      },
    };
  }
  return {
    ...common,
    async setValue(id, value) {
      await control(controlUrl, 'PATCH', `/ui/opportunities/${id}`, { estimatedvalue: value });
    },
    async opportunities() {
      const rows: Record<string, unknown>[] = [];
      let path: string | null =
        '/ui/opportunities?$select=opportunityid,name,cosell_referralidentifier,estimatedvalue';
      while (path) {
        const page: { value: Record<string, unknown>[]; '@odata.nextLink'?: string } = await control(
          controlUrl,
          'GET',
          path,
        );
        rows.push(...page.value);
        const next = page['@odata.nextLink'];
        path = next ? `/ui/opportunities${new URL(next).search}` : null;
      }
      return rows.map((r) => ({
        id: String(r['opportunityid']),
        name: String(r['name'] ?? ''),
        referralId: (r['cosell_referralidentifier'] as string | null) ?? null,
        value: (r['estimatedvalue'] as number | null) ?? null,
      }));
    },
  };
}

/** A co-sell referral a Microsoft seller sends (Partner Center emulator control API): the demo's. */
export const microsoftReferral = microsoftReferralBody;
