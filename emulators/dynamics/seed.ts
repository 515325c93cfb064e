// A new environment's rows: the organization and its currencies, the application user cosell signs in as
// (System Administrator), a seller, the security roles, and the solution's environment variable definitions.
import type { DataverseStore } from './store.ts';

export const ORG_CURRENCIES = ['USD', 'EUR', 'GBP', 'JPY', 'AUD', 'CAD', 'INR', 'CHF'] as const;
export const SELLER_ID = '5e11e400-0000-4000-8000-00000000c0de';

const CURRENCY_NAMES: Record<string, string> = {
  USD: 'US Dollar',
  EUR: 'Euro',
  GBP: 'Pound Sterling',
  JPY: 'Yen',
  AUD: 'Australian Dollar',
  CAD: 'Canadian Dollar',
  INR: 'Indian Rupee',
  CHF: 'Swiss Franc',
};

export interface SeedOptions {
  userId: string;
  organizationId: string;
  clientId: string;
  currency: string;
  multiCurrency: boolean;
}

export function seedEnvironment(store: DataverseStore, options: SeedOptions): void {
  const system = { userId: options.userId, stateChangeAllowed: true };
  const codes = options.multiCurrency
    ? [options.currency, ...ORG_CURRENCIES.filter((c) => c !== options.currency)]
    : [options.currency];
  const currencyIds = codes.map(
    (code) =>
      store.create(
        store.table('transactioncurrency'),
        { isocurrencycode: code, currencyname: CURRENCY_NAMES[code] ?? code, exchangerate: 1 },
        system,
      ).transactioncurrencyid as string,
  );
  const users = store.table('systemuser');
  store.create(
    users,
    {
      systemuserid: options.userId,
      fullname: '# cosell integration',
      applicationid: options.clientId,
      isdisabled: false,
    },
    system,
  );
  store.create(
    users,
    {
      systemuserid: SELLER_ID,
      fullname: 'Sam Seller',
      domainname: 'sam@contoso.example',
      internalemailaddress: 'sam@contoso.example',
      isdisabled: false,
    },
    system,
  );
  store.create(
    store.table('organization'),
    {
      organizationid: options.organizationId,
      name: 'cosell emulated environment',
      'basecurrencyid@odata.bind': `/transactioncurrencies(${currencyIds[0]})`,
    },
    system,
  );
  const roles = store.table('role');
  for (const name of ['System Administrator', 'System Customizer', 'Salesperson']) {
    const role = store.create(roles, { name }, system);
    if (name === 'System Administrator') store.grantRole(options.userId, String(role.roleid));
    if (name === 'Salesperson') store.grantRole(SELLER_ID, String(role.roleid));
  }
  for (const variable of store.schema.solution?.variables ?? []) {
    store.create(
      store.table('environmentvariabledefinition'),
      {
        schemaname: variable.schemaName,
        displayname: variable.displayName,
        defaultvalue: variable.defaultValue,
        type: variable.type,
      },
      system,
    );
  }
}
