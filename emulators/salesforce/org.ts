/** The state of one emulated org: schema, records, sessions, API budget, cursors, faults and call counters. */

import { CallLog } from '../shared/calls.ts';
import { SessionRegistry } from './auth.ts';
import type { DmlContext } from './dml.ts';
import { FaultInjector } from './faults.ts';
import { makeId } from './ids.ts';
import { loadSchema, type Schema } from './schema.ts';
import { ORG_CURRENCIES, STANDARD_KEY_PREFIXES } from './standard-objects.ts';
import { RecordStore, type StoreState } from './store.ts';
import { systemStamp } from './time.ts';

export interface OrgConfig {
  bare: boolean;
  multiCurrency: boolean;
  /** The corporate currency of a single-currency org (a multi-currency org's is ORG_CURRENCIES[0]). */
  currency: string;
  dailyApiLimit: number;
  queryBatchSize: number;
  integrationUsername: string;
  packageDir?: string;
  now: () => Date;
}

export interface QueryCursor {
  records: Record<string, unknown>[];
  totalSize: number;
  batchSize: number;
  apiVersion: string;
  lastUsed: number;
}

/** Query locators expire when idle (about 15 minutes in a real org, reference/crm.md §B.4). */
export const QUERY_LOCATOR_IDLE_MS = 15 * 60 * 1000;
export const SELLER_USERNAME = 'seller@cosell-emulator.example';

export class SalesforceOrg {
  readonly schema: Schema;
  readonly store = new RecordStore();
  readonly orgId = makeId('00D', 1);
  readonly sessions = new SessionRegistry(this.orgId);
  readonly faults = new FaultInjector();
  readonly calls = new CallLog('salesforce');
  readonly cursors = new Map<string, QueryCursor>();
  readonly startedAt: Date;
  integrationUserId = '';
  sellerUserId = '';
  permissionSetAssigned = true;
  readOnlyFields = new Set<string>();
  hiddenFields = new Set<string>();
  dailyApiLimit: number;
  apiUsed = 0;
  private cursorSequence = 0;

  constructor(readonly config: OrgConfig) {
    this.schema = loadSchema({
      bare: config.bare,
      multiCurrency: config.multiCurrency,
      packageDir: config.packageDir,
    });
    this.dailyApiLimit = config.dailyApiLimit;
    this.startedAt = config.now();
    this.seedUsers();
  }

  now(): Date {
    return this.config.now();
  }

  private seedUsers(): void {
    const stamp = systemStamp(this.now());
    const user = (username: string, firstName: string, lastName: string, alias: string): string => {
      const id = makeId(STANDARD_KEY_PREFIXES.User, this.store.nextSequence());
      this.store.put({
        id,
        type: 'User',
        isDeleted: false,
        values: {
          Id: id,
          Username: username,
          FirstName: firstName,
          LastName: lastName,
          Name: `${firstName} ${lastName}`,
          Email: username,
          Alias: alias,
          IsActive: true,
          IsDeleted: false,
          CreatedDate: stamp,
          CreatedById: id,
          LastModifiedDate: stamp,
          LastModifiedById: id,
          SystemModstamp: stamp,
        },
      });
      return id;
    };
    this.integrationUserId = user(this.config.integrationUsername, 'Cosell', 'Integration', 'cosell');
    this.sellerUserId = user(SELLER_USERNAME, 'Sam', 'Seller', 'sseller');
    this.seedCurrencies(stamp);
  }

  /** The corporate currency every amount is in when the org has no CurrencyIsoCode field. */
  get corporateCurrency(): string {
    return this.config.multiCurrency ? ORG_CURRENCIES[0] : this.config.currency;
  }

  /** The Organization row and, in a multi-currency org, one CurrencyType row per enabled currency. */
  private seedCurrencies(stamp: string): void {
    const system = {
      IsDeleted: false,
      CreatedDate: stamp,
      CreatedById: this.integrationUserId,
      LastModifiedDate: stamp,
      LastModifiedById: this.integrationUserId,
      SystemModstamp: stamp,
    };
    this.store.put({
      id: this.orgId,
      type: 'Organization',
      isDeleted: false,
      values: {
        Id: this.orgId,
        Name: 'cosell emulator org',
        DefaultCurrencyIsoCode: this.corporateCurrency,
        IsMultiCurrencyEnabled: this.config.multiCurrency,
        ...system,
      },
    });
    if (!this.config.multiCurrency) return;
    for (const code of ORG_CURRENCIES) {
      const id = makeId(STANDARD_KEY_PREFIXES.CurrencyType, this.store.nextSequence());
      this.store.put({
        id,
        type: 'CurrencyType',
        isDeleted: false,
        values: {
          Id: id,
          IsoCode: code,
          IsActive: true,
          IsCorporate: code === this.corporateCurrency,
          ConversionRate: 1,
          DecimalPlaces: code === 'JPY' ? 0 : 2,
          ...system,
        },
      });
    }
  }

  /** The integration user calling the REST API: field-level security from the permission set applies. */
  apiContext(userId: string): DmlContext {
    return {
      schema: this.schema,
      store: this.store,
      view: {
        kind: 'api',
        permissionSetAssigned: this.permissionSetAssigned,
        readOnlyFields: this.readOnlyFields,
        hiddenFields: this.hiddenFields,
      },
      userId,
      now: () => this.now(),
    };
  }

  /**
   * How long a seller's save takes to commit (control API `PATCH /ui-commit-lag`): Salesforce stamps
   * SystemModstamp when the transaction starts, so a save slowed by flows and triggers becomes visible with a
   * stamp already behind a poller's last position. 0: commits are instant.
   */
  uiCommitLagMs = 0;

  /** A seller in the Salesforce UI (control API): sees every field, same validation and timestamps. */
  uiContext(): DmlContext {
    return {
      schema: this.schema,
      store: this.store,
      view: { kind: 'ui', permissionSetAssigned: true },
      userId: this.sellerUserId,
      now: () => new Date(this.now().getTime() - this.uiCommitLagMs),
    };
  }

  openCursor(cursor: Omit<QueryCursor, 'lastUsed'>): string {
    this.cursorSequence += 1;
    const locator = makeId('01g', this.cursorSequence);
    this.cursors.set(locator, { ...cursor, lastUsed: Date.now() });
    return locator;
  }

  limitHeader(): string {
    return `api-usage=${this.apiUsed}/${this.dailyApiLimit}`;
  }

  /** Clears records, cursors, faults and counters; keeps sessions so connected clients stay logged in. */
  reset(): void {
    this.store.clear();
    this.cursors.clear();
    this.faults.clear();
    this.calls.clear();
    this.apiUsed = 0;
    this.uiCommitLagMs = 0;
    this.dailyApiLimit = this.config.dailyApiLimit;
    this.permissionSetAssigned = true;
    this.readOnlyFields = new Set();
    this.hiddenFields = new Set();
    this.seedUsers();
  }

  exportState(): StoreState {
    return this.store.snapshot();
  }

  importState(state: StoreState): void {
    this.store.restore(state);
    const users = this.store.list('User');
    this.integrationUserId =
      users.find((u) => u.values['Username'] === this.config.integrationUsername)?.id ??
      this.integrationUserId;
    this.sellerUserId = users.find((u) => u.values['Username'] === SELLER_USERNAME)?.id ?? this.sellerUserId;
  }
}
