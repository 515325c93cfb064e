// The demo's small story, played through the emulators' control APIs exactly as a Microsoft seller and a
// Salesforce seller would act: a referral Microsoft sends, a seller's co-sell opportunity shared with Sync
// ticked, and one co-sell whose account has no country (cosell refuses to send it and says why).

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

/** A Microsoft seller sends the partner a co-sell referral (Partner Center emulator control API). */
export async function sendMicrosoftReferral(pcControl: string): Promise<StoryIds['referral']> {
  const name = 'Contoso Cloud Migration';
  const referral = await control<{ id: string }>(pcControl, 'POST', '/incoming-referrals', {
    name,
    customerProfile: {
      name: 'Contoso Ltd',
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
      dealValue: 250000,
      currency: 'USD',
      closingDateTime: inDays(60),
      requirements: { solutions: [DEMO_SOLUTION] },
    },
    inviteContext: {
      assistanceRequestCode: 'CustomerTechnicalArchitecture',
      notes: 'Customer asked for help.',
    },
  });
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
