/**
 * Lead conversion as a seller does it in the UI (there is no REST sObject call for it): creates or reuses an
 * account and a contact, creates an opportunity with the contact as primary role, and marks the lead converted.
 * Same-named custom fields are copied from the lead to the opportunity, which is what the org's lead field
 * mapping does once an admin maps the shipped sync fields (see packaging/salesforce/README.md).
 */
import { createRecord, type DmlContext, objectFromPath, recordFromPath, writeSystemFields } from './dml.ts';
import { dmlError } from './errors.ts';
import { CONVERTED_LEAD_STATUS } from './standard-objects.ts';
import { formatDate } from './time.ts';

export interface ConvertLeadOptions {
  accountId?: string;
  contactId?: string;
  opportunityName?: string;
  doNotCreateOpportunity?: boolean;
}

export interface ConvertLeadResult {
  leadId: string;
  accountId: string;
  contactId: string;
  opportunityId: string | null;
}

const DAY = 86_400_000;

export function convertLead(
  ctx: DmlContext,
  leadId: string,
  options: ConvertLeadOptions = {},
): ConvertLeadResult {
  const leadObject = objectFromPath(ctx, 'Lead');
  const lead = recordFromPath(ctx, leadObject, leadId);
  if (lead.values['IsConverted'] === true)
    throw dmlError('CANNOT_UPDATE_CONVERTED_LEAD', 'cannot reference converted lead');
  const v = lead.values;
  const accountId =
    options.accountId ??
    createRecord(ctx, objectFromPath(ctx, 'Account'), {
      Name: v['Company'],
      BillingStreet: v['Street'],
      BillingCity: v['City'],
      BillingState: v['State'],
      BillingPostalCode: v['PostalCode'],
      BillingCountry: v['Country'],
      Phone: v['Phone'],
      Website: v['Website'],
      Industry: v['Industry'],
    }).id;
  const contactId =
    options.contactId ??
    createRecord(ctx, objectFromPath(ctx, 'Contact'), {
      AccountId: accountId,
      FirstName: v['FirstName'],
      LastName: v['LastName'],
      Email: v['Email'],
      Phone: v['Phone'],
      Title: v['Title'],
      MailingStreet: v['Street'],
      MailingCity: v['City'],
      MailingState: v['State'],
      MailingPostalCode: v['PostalCode'],
      MailingCountry: v['Country'],
    }).id;
  let opportunityId: string | null = null;
  if (!options.doNotCreateOpportunity) {
    const opportunityObject = objectFromPath(ctx, 'Opportunity');
    const copied: Record<string, unknown> = {};
    for (const field of leadObject.fields.values()) {
      const target = opportunityObject.fields.get(field.name);
      if (field.custom && target?.createable && v[field.name] !== null && v[field.name] !== undefined) {
        copied[field.name] = v[field.name];
      }
    }
    opportunityId = createRecord(ctx, opportunityObject, {
      ...copied,
      Name: options.opportunityName ?? `${String(v['Company'] ?? '')}-`,
      AccountId: accountId,
      StageName: 'Prospecting',
      CloseDate: formatDate(new Date(ctx.now().getTime() + 30 * DAY)),
      LeadSource: v['LeadSource'],
      Description: v['Description'],
    }).id;
    createRecord(ctx, objectFromPath(ctx, 'OpportunityContactRole'), {
      OpportunityId: opportunityId,
      ContactId: contactId,
      IsPrimary: true,
    });
  }
  writeSystemFields(ctx, lead, {
    IsConverted: true,
    Status: CONVERTED_LEAD_STATUS,
    ConvertedDate: formatDate(ctx.now()),
    ConvertedAccountId: accountId,
    ConvertedContactId: contactId,
    ConvertedOpportunityId: opportunityId,
  });
  return { leadId: lead.id, accountId, contactId, opportunityId };
}
