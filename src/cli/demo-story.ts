// The demo's small story, played through the emulators' control APIs exactly as a Microsoft seller and a
// CRM seller would act: a referral Microsoft sends, a seller's co-sell opportunity shared with Sync ticked, and
// one co-sell whose account has no country (cosell refuses to send it and says why). The CRM side exists once
// per CRM emulator (Salesforce, Dynamics 365), behind DemoCrm.

/** A JSON call to an emulator's control API (no auth, never counted as an API call). */
export async function control<T = unknown>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok)
    throw new Error(`${method} ${base}${path} answered ${response.status}: ${text.slice(0, 300)}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export interface StoryIds {
  referral: { id: string; name: string };
  shared: { opportunityId: string; name: string };
  missingCountry: { opportunityId: string; accountId: string; name: string; accountName: string };
}

export const DEMO_SOLUTION = { id: 'SOL-34104-EBB', name: 'Contoso Data Platform' };

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

/** The co-sell referral a Microsoft seller sends: a US customer with a contact, a solution and a request for help. */
export function microsoftReferralBody(
  name: string,
  customer: string,
  dealValue: number,
): Record<string, unknown> {
  return {
    name,
    customerProfile: {
      name: customer,
      address: {
        addressLine1: '1 Main St',
        city: 'Redmond',
        state: 'WA',
        postalCode: '98052',
        country: 'US',
      },
      team: [{ firstName: 'Avery', lastName: 'Howard', email: 'avery.howard@contoso.example' }],
    },
    details: {
      dealValue,
      currency: 'USD',
      closingDateTime: inDays(60),
      requirements: { solutions: [DEMO_SOLUTION] },
    },
    inviteContext: {
      assistanceRequestCode: 'CustomerTechnicalArchitecture',
      notes: 'Customer asked for help.',
    },
  };
}

/** A Microsoft seller sends the partner a co-sell referral (Partner Center emulator control API). */
export async function sendMicrosoftReferral(pcControl: string): Promise<StoryIds['referral']> {
  const name = 'Contoso Cloud Migration';
  const referral = await control<{ id: string }>(
    pcControl,
    'POST',
    '/incoming-referrals',
    microsoftReferralBody(name, 'Contoso Ltd', 250000),
  );
  return { id: referral.id, name };
}

/** A Salesforce seller builds a co-sell opportunity in the UI and ticks Sync last (emulator `/ui`). */
export async function shareSellerOpportunity(
  sfControl: string,
  input: { name: string; accountName: string; country: string | null; solutionId: string },
): Promise<{ opportunityId: string; accountId: string }> {
  const ui = async (type: string, body: Record<string, unknown>) =>
    (await control<{ id: string }>(sfControl, 'POST', `/ui/${type}`, body)).id;
  const accountId = await ui('Account', {
    Name: input.accountName,
    BillingStreet: '500 Pine St',
    BillingCity: 'Seattle',
    BillingPostalCode: '98101',
    ...(input.country ? { BillingCountry: input.country } : {}),
  });
  const contactId = await ui('Contact', {
    AccountId: accountId,
    FirstName: 'Jordan',
    LastName: 'Lee',
    Email: `jordan.lee@${input.accountName.toLowerCase().replace(/[^a-z]+/g, '')}.example`,
  });
  const opportunityId = await ui('Opportunity', {
    Name: input.name,
    StageName: 'Qualification',
    CloseDate: inDays(45).slice(0, 10),
    Amount: 120000,
    AccountId: accountId,
    Description: 'Seller wants Microsoft to help with a proof of concept.',
    How_can_Microsoft_help__c: 'Proof of concept or demo',
  });
  await ui('OpportunityContactRole', {
    OpportunityId: opportunityId,
    ContactId: contactId,
    Role: 'Business User',
  });
  await ui('Microsoft_Partner_Center_Solution__c', {
    Opportunity__c: opportunityId,
    Solution__c: input.solutionId,
  });
  await control(sfControl, 'PATCH', `/ui/Opportunity/${opportunityId}`, {
    Sync_with_Partner_Center__c: true,
  });
  return { opportunityId, accountId };
}

/** The solution catalogue row both seller opportunities pick (an admin loads the catalogue once). */
export async function addCatalogueSolution(sfControl: string): Promise<string> {
  const row = await control<{ id: string }>(sfControl, 'POST', '/ui/Microsoft_Solution_Detail__c', {
    Name: DEMO_SOLUTION.name,
    Solution_Id__c: DEMO_SOLUTION.id,
    Solution_Name__c: DEMO_SOLUTION.name,
  });
  return row.id;
}

export function readOpportunity(sfControl: string, id: string): Promise<Record<string, unknown>> {
  return control<Record<string, unknown>>(sfControl, 'GET', `/ui/Opportunity/${id}`);
}

/** An opportunity as the demo reports it, whichever CRM holds it. */
export interface DemoOpportunity {
  name: string;
  referralId: string | null;
  audit: string | null;
}

/** The CRM half of the demo: its config section, the seller's actions and the "Try next" commands. */
export interface DemoCrm {
  label: string;
  /** The crm section of the config and the environment holding its secret. */
  config(info: Record<string, string>): { crm: Record<string, unknown>; env: Record<string, string> };
  addCatalogueSolution(control: string): Promise<string>;
  shareSellerOpportunity(
    control: string,
    input: { name: string; accountName: string; country: string | null; solutionId: string },
  ): Promise<{ opportunityId: string; accountId: string }>;
  readOpportunity(control: string, id: string): Promise<DemoOpportunity>;
  /** Shell lines: fix the account's country, read the opportunity, change the deal value. */
  tryNext(control: string, ids: { accountId: string; missingId: string; sharedId: string }): string[];
  /** Where the emulator's API is, for the guide. */
  apiUrl(info: Record<string, string>): string;
  readme: string;
}

export const SALESFORCE_DEMO: DemoCrm = {
  label: 'Salesforce',
  config: (sf) => ({
    crm: {
      kind: 'salesforce',
      salesforce: {
        connection: {
          loginUrl: sf['loginUrl'],
          apiVersion: sf['apiVersion'],
          auth: { grant: 'client-credentials', clientId: sf['clientId'] },
        },
      },
    },
    env: { COSELL_SF_CLIENT_SECRET: String(sf['clientSecret']) },
  }),
  addCatalogueSolution,
  shareSellerOpportunity,
  async readOpportunity(sfControl, id) {
    const record = await readOpportunity(sfControl, id);
    return {
      name: String(record['Name'] ?? ''),
      referralId: (record['Referral_Identifier__c'] as string | null) ?? null,
      audit: (record['Audit__c'] as string | null) ?? null,
    };
  },
  tryNext: (sfc, ids) => [
    "  # Fix only the account's country: cosell sees it, sends the referral, and ✖ becomes ✔ (a few seconds).",
    `  curl -s -X PATCH ${sfc}/ui/Account/${ids.accountId} -H 'content-type: application/json' -d '{"BillingCountry":"United States"}'`,
    `  curl -s ${sfc}/ui/Opportunity/${ids.missingId}      # Name, Referral_Identifier__c, Audit__c`,
    '',
    '  # Change the deal value in Salesforce: the referral follows (and gets an audit line).',
    `  curl -s -X PATCH ${sfc}/ui/Opportunity/${ids.sharedId} -H 'content-type: application/json' -d '{"Amount":175000}'`,
  ],
  apiUrl: (sf) => String(sf['instanceUrl']),
  readme: 'emulators/salesforce/README.md',
};

/** A Dynamics 365 seller in the model-driven app: account, contact, opportunity, stakeholder, solution row. */
export const DYNAMICS_DEMO: DemoCrm = {
  label: 'Dynamics 365',
  config: (dv) => ({
    crm: {
      kind: 'dynamics',
      dynamics: {
        connection: {
          url: dv['url'],
          tenantId: dv['tenantId'],
          authorityHost: dv['authorityHost'],
          auth: { grant: 'client-secret', clientId: dv['clientId'] },
        },
      },
    },
    env: { COSELL_D365_CLIENT_SECRET: String(dv['clientSecret']) },
  }),
  async addCatalogueSolution(dvControl) {
    const row = await control<Record<string, unknown>>(
      dvControl,
      'POST',
      '/ui/cosell_microsoftsolutiondetails',
      {
        cosell_name: DEMO_SOLUTION.name,
        cosell_solutionid: DEMO_SOLUTION.id,
      },
    );
    return String(row['cosell_microsoftsolutiondetailid']);
  },
  async shareSellerOpportunity(dvControl, input) {
    const ui = async (set: string, id: string, body: Record<string, unknown>) =>
      String((await control<Record<string, unknown>>(dvControl, 'POST', `/ui/${set}`, body))[id]);
    const accountId = await ui('accounts', 'accountid', {
      name: input.accountName,
      address1_line1: '500 Pine St',
      address1_city: 'Seattle',
      address1_postalcode: '98101',
      ...(input.country ? { address1_country: input.country } : {}),
    });
    const contactId = await ui('contacts', 'contactid', {
      'parentcustomerid_account@odata.bind': `/accounts(${accountId})`,
      firstname: 'Jordan',
      lastname: 'Lee',
      emailaddress1: `jordan.lee@${input.accountName.toLowerCase().replace(/[^a-z]+/g, '')}.example`,
    });
    const opportunityId = await ui('opportunities', 'opportunityid', {
      name: input.name,
      estimatedclosedate: inDays(45).slice(0, 10),
      estimatedvalue: 120000,
      'customerid_account@odata.bind': `/accounts(${accountId})`,
      'parentaccountid@odata.bind': `/accounts(${accountId})`,
      description: 'Seller wants Microsoft to help with a proof of concept.',
      cosell_howcanmicrosofthelp: 100000002,
    });
    await ui('connections', 'connectionid', {
      'record1id_opportunity@odata.bind': `/opportunities(${opportunityId})`,
      'record2id_contact@odata.bind': `/contacts(${contactId})`,
    });
    await ui('cosell_microsoftpartnercentersolutions', 'cosell_microsoftpartnercentersolutionid', {
      cosell_name: DEMO_SOLUTION.id,
      'cosell_OpportunityId@odata.bind': `/opportunities(${opportunityId})`,
      'cosell_SolutionDetailId@odata.bind': `/cosell_microsoftsolutiondetails(${input.solutionId})`,
    });
    await control(dvControl, 'PATCH', `/ui/opportunities/${opportunityId}`, {
      cosell_syncwithpartnercenter: true,
    });
    return { opportunityId, accountId };
  },
  async readOpportunity(dvControl, id) {
    const record = await control<Record<string, unknown>>(dvControl, 'GET', `/ui/opportunities/${id}`);
    return {
      name: String(record['name'] ?? ''),
      referralId: (record['cosell_referralidentifier'] as string | null) ?? null,
      audit: (record['cosell_audit'] as string | null) ?? null,
    };
  },
  tryNext: (dvc, ids) => [
    "  # Fix only the account's country: cosell sees it, sends the referral, and ✖ becomes ✔ (a few seconds).",
    `  curl -s -X PATCH ${dvc}/ui/accounts/${ids.accountId} -H 'content-type: application/json' -d '{"address1_country":"US"}'`,
    `  curl -s ${dvc}/ui/opportunities/${ids.missingId}      # name, cosell_referralidentifier, cosell_audit`,
    '',
    '  # Change the deal value in Dynamics 365: the referral follows (and gets an audit line).',
    `  curl -s -X PATCH ${dvc}/ui/opportunities/${ids.sharedId} -H 'content-type: application/json' -d '{"estimatedvalue":175000}'`,
  ],
  apiUrl: (dv) => String(dv['api']),
  readme: 'emulators/dynamics/README.md',
};
