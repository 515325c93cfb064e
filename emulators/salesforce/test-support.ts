/** Helpers for the emulator's own tests: start it, log in, and call it over real HTTP. */
import { createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  type RunningSalesforceEmulator,
  type SalesforceEmulatorOptions,
  startSalesforceEmulator,
} from './server.ts';

export interface HttpResult {
  status: number;
  body: unknown;
  headers: Headers;
}

export async function httpJson(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<HttpResult> {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? (JSON.parse(text) as unknown) : undefined,
    headers: response.headers,
  };
}

/** Signs a JWT bearer assertion with the emulator's demo private key (or another key). */
export function signJwtAssertion(claims: Record<string, unknown>, privateKeyPem: string): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'RS256', typ: 'JWT' })}.${encode(claims)}`;
  const signature = createSign('RSA-SHA256').update(unsigned).sign(privateKeyPem).toString('base64url');
  return `${unsigned}.${signature}`;
}

export function demoJwtClaims(emulator: RunningSalesforceEmulator, overrides: Record<string, unknown> = {}) {
  return {
    iss: emulator.info.clientId,
    sub: emulator.info.username,
    aud: emulator.info.loginUrl,
    exp: Math.floor(Date.now() / 1000) + 180,
    ...overrides,
  };
}

export function readDemoPrivateKey(emulator: RunningSalesforceEmulator): string {
  return readFileSync(emulator.info.jwtPrivateKeyPath, 'utf8');
}

export async function tokenRequest(
  emulator: RunningSalesforceEmulator,
  form: Record<string, string>,
): Promise<HttpResult> {
  const response = await fetch(`${emulator.info.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: response.status, body: (await response.json()) as unknown, headers: response.headers };
}

export interface TestOrg {
  emulator: RunningSalesforceEmulator;
  token: string;
  /** REST call below `/services/data/v60.0`. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<HttpResult>;
  /** Control API call below `/_emulator`. */
  control(method: string, path: string, body?: unknown): Promise<HttpResult>;
  close(): Promise<void>;
}

export const TEST_API_VERSION = '60.0';

export async function startTestOrg(options: SalesforceEmulatorOptions = {}): Promise<TestOrg> {
  const emulator = await startSalesforceEmulator(options);
  const login = await tokenRequest(emulator, {
    grant_type: 'client_credentials',
    client_id: emulator.info.clientId,
    client_secret: emulator.info.clientSecret,
  });
  const token = (login.body as { access_token: string }).access_token;
  return {
    emulator,
    token,
    api: (method, path, body, headers = {}) =>
      httpJson(`${emulator.info.instanceUrl}/services/data/v${TEST_API_VERSION}${path}`, {
        method,
        body,
        headers: { authorization: `Bearer ${token}`, ...headers },
      }),
    control: (method, path, body) => httpJson(`${emulator.info.control}${path}`, { method, body }),
    close: () => emulator.close(),
  };
}

export function soql(query: string): string {
  return `/query?q=${encodeURIComponent(query)}`;
}

/** A valid opportunity body; override what the test is about. */
export function opportunityBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { Name: 'Contoso expansion', StageName: 'Prospecting', CloseDate: '2026-12-31', ...overrides };
}
