// Shared by the emulator's integration tests: start it on port 0, get tokens over its token endpoint, call it.
import {
  type PartnerCenterEmulatorOptions,
  type RunningPartnerCenterEmulator,
  startPartnerCenterEmulator,
} from './index.ts';

export const REFERRALS_SCOPE = 'https://api.partner.microsoft.com/.default';
export const WEBHOOKS_SCOPE = 'https://api.partnercenter.microsoft.com/.default';

export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export interface TestEmulator {
  pc: RunningPartnerCenterEmulator;
  /** POSTs a form to the v2 token endpoint. */
  tokenRequest(form: Record<string, string>, url?: string): Promise<JsonResponse>;
  /** A Referrals API access token for the demo admin (password grant: scripts only). */
  userToken(scope?: string, username?: string, password?: string): Promise<string>;
  /** Calls a Referrals API path (`/referrals/...`) with the demo admin's token unless `token` is given. */
  api<T = Record<string, unknown>>(path: string, init?: ApiInit): Promise<JsonResponse<T>>;
  /** Calls a control path (`/referrals/...` under /_emulator). */
  control<T = Record<string, unknown>>(
    path: string,
    init?: { method?: string; body?: unknown },
  ): Promise<JsonResponse<T>>;
  /** Drops cached tokens (after a revoke or expire). */
  forgetTokens(): void;
  close(): Promise<void>;
}

export interface ApiInit {
  method?: string;
  body?: unknown;
  token?: string | null;
  headers?: Record<string, string>;
}

async function asJson<T>(response: Response): Promise<JsonResponse<T>> {
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: (text ? JSON.parse(text) : undefined) as T,
  };
}

export async function startTestEmulator(options: PartnerCenterEmulatorOptions = {}): Promise<TestEmulator> {
  const pc = await startPartnerCenterEmulator({ port: 0, ...options });
  const tokens = new Map<string, string>();

  const tokenRequest = async (form: Record<string, string>, url = pc.info.token) =>
    asJson<Record<string, unknown>>(await fetch(url, { method: 'POST', body: new URLSearchParams(form) }));

  const userToken = async (
    scope = REFERRALS_SCOPE,
    username = pc.info.username,
    password = pc.info.password,
  ) => {
    const key = `${scope}|${username}`;
    const cached = tokens.get(key);
    if (cached) return cached;
    const answer = await tokenRequest({
      grant_type: 'password',
      client_id: pc.info.clientId,
      username,
      password,
      scope: `${scope} offline_access`,
    });
    if (answer.status !== 200) throw new Error(`token request failed: ${JSON.stringify(answer.body)}`);
    const token = String(answer.body.access_token);
    tokens.set(key, token);
    return token;
  };

  return {
    pc,
    tokenRequest,
    userToken,
    async api<T>(path: string, init: ApiInit = {}) {
      const headers: Record<string, string> = { ...init.headers };
      const token = init.token === undefined ? await userToken() : init.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      let body: string | undefined;
      if (init.body !== undefined) {
        body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
        headers['content-type'] ??= 'application/json';
      }
      const url = path.startsWith('http') ? path : `${pc.info.referrals}${path}`;
      return asJson<T>(await fetch(url, { method: init.method ?? 'GET', headers, body }));
    },
    async control<T>(path: string, init: { method?: string; body?: unknown } = {}) {
      const headers: Record<string, string> = {};
      if (init.body !== undefined) headers['content-type'] = 'application/json';
      const body = init.body === undefined ? undefined : JSON.stringify(init.body);
      return asJson<T>(
        await fetch(`${pc.info.control}${path}`, { method: init.method ?? 'GET', headers, body }),
      );
    },
    forgetTokens: () => tokens.clear(),
    close: () => pc.close(),
  };
}

/** A referral a partner may create as co-sell: help requested, solution, contact, country. */
export function coSellReferral(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Contoso data platform',
    type: 'Shared',
    qualification: 'SalesQualified',
    externalReferenceId: 'crm-opp-1',
    customerProfile: {
      name: 'Contoso Ltd',
      address: {
        addressLine1: '1 Main St',
        city: 'Seattle',
        state: 'WA',
        postalCode: '98101',
        country: 'US',
      },
      team: [{ firstName: 'Avery', lastName: 'Customer', email: 'avery@contoso.example' }],
    },
    consent: { consentToContact: true, consentToShareReferralWithMicrosoftSellers: true },
    details: {
      dealValue: 25000,
      currency: 'USD',
      closingDateTime: '2027-03-31T00:00:00Z',
      requirements: { solutions: [{ id: 'SOL-34104-EBB', type: 'Name' }] },
    },
    team: [{ firstName: 'Sam', lastName: 'Seller', email: 'sam@contoso-partner.example' }],
    inviteContext: { assistanceRequestCode: 'ProofOfConceptOrDemo', notes: 'Need an Azure architect' },
    ...overrides,
  };
}

/** A private referral: no help requested, not shared. */
export function privateReferral(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'Private deal',
    type: 'Independent',
    customerProfile: { name: 'Northwind Traders', address: { country: 'GB' } },
    consent: { consentToContact: true, consentToShareReferralWithMicrosoftSellers: false },
    details: { dealValue: 1000, currency: 'GBP' },
    ...overrides,
  };
}
