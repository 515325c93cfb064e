// Which currencies a Dataverse environment holds amounts in (R21): the organization's base currency and the
// active transactioncurrency rows, with their ids (a deal's currency is a lookup). One $batch; the adapter
// caches it and doctor reports it.
import type { CurrencySupport } from '../port.ts';
import type { DataverseClient } from './client.ts';
import { ENTITY_SETS } from './fields.ts';

export interface CurrencyTable extends CurrencySupport {
  /** transactioncurrencyid → ISO code, and back. */
  codeById: Map<string, string>;
  idByCode: Map<string, string>;
}

type Rows = { value?: Record<string, unknown>[] };

export async function readCurrencies(client: DataverseClient): Promise<CurrencyTable> {
  const [organizations, currencies] = (await client.batch('read currencies', (api) => {
    api.retrieveMultiple({ collection: ENTITY_SETS.organization, select: ['_basecurrencyid_value'] });
    api.retrieveMultiple({
      collection: ENTITY_SETS.currency,
      select: ['isocurrencycode', 'transactioncurrencyid'],
      filter: 'statecode eq 0',
    });
  })) as [Rows, Rows];
  const codeById = new Map<string, string>();
  const idByCode = new Map<string, string>();
  for (const row of currencies.value ?? []) {
    const code = String(row.isocurrencycode).toUpperCase();
    const id = String(row.transactioncurrencyid).toLowerCase();
    codeById.set(id, code);
    idByCode.set(code, id);
  }
  const baseId = String(organizations.value?.[0]?._basecurrencyid_value ?? '').toLowerCase();
  const enabled = [...idByCode.keys()];
  return { corporate: codeById.get(baseId) ?? enabled[0] ?? '', enabled, codeById, idByCode };
}
