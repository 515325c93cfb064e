// Which currencies a Salesforce org holds amounts in (R21): a single-currency org holds every amount in
// Organization.DefaultCurrencyIsoCode; a multi-currency org lists its enabled currencies as CurrencyType rows
// (reference/crm.md §B). One query; the adapter caches it and doctor reports it.
import type { CurrencySupport } from '../port.ts';
import type { SalesforceClient } from './client.ts';
import { select } from './soql.ts';

export async function readCurrencySupport(
  client: SalesforceClient,
  multiCurrency: boolean,
): Promise<CurrencySupport> {
  if (multiCurrency) {
    const rows = await client.query(
      select({
        fields: ['IsoCode', 'IsCorporate'],
        from: 'CurrencyType',
        where: { field: 'IsActive', op: '=', value: true },
      }),
      'read currencies',
    );
    const enabled = rows.map((r) => String(r.IsoCode).toUpperCase());
    const corporate = rows.find((r) => r.IsCorporate === true);
    return { corporate: corporate ? String(corporate.IsoCode).toUpperCase() : (enabled[0] ?? ''), enabled };
  }
  const rows = await client.query(
    select({ fields: ['DefaultCurrencyIsoCode'], from: 'Organization' }),
    'read currency',
  );
  const corporate = String(rows[0]?.DefaultCurrencyIsoCode ?? '').toUpperCase();
  return { corporate, enabled: corporate ? [corporate] : [] };
}
