// The HTTP layer against a small scripted server on 127.0.0.1 (real sockets): header semantics, retry
// classification and error parsing that the emulator cannot easily be made to show (e.g. the throttling
// body shape, a dropped connection). Behaviour against Partner Center's semantics is in test/e2e.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TokenProvider } from './auth.ts';
import { PartnerCenterAuthError, PartnerCenterError } from './errors.ts';
import { PartnerCenterHttp, parseErrorBody } from './http.ts';
import { ReferralsClient } from './referrals.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let script: Handler[] = [];
const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }> = [];
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    const next = script.shift();
    if (next) next(req, res);
    else res.writeHead(500).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1.0/engagements`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  script = [];
  seen.length = 0;
});

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Handler =>
  (_req, res) =>
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));

class CountingTokens implements TokenProvider {
  calls: Array<{ api: string; forceRefresh: boolean }> = [];
  constructor(private readonly fail?: PartnerCenterAuthError) {}
  async getToken(api: 'referrals' | 'webhooks', options?: { forceRefresh?: boolean }): Promise<string> {
    this.calls.push({ api, forceRefresh: options?.forceRefresh ?? false });
    if (this.fail && options?.forceRefresh) throw this.fail;
    return `token-${this.calls.length}`;
  }
}

function client(tokens: TokenProvider = new CountingTokens(), delays: number[] = []) {
  return new PartnerCenterHttp({
    api: 'referrals',
    baseUrl: base,
    tokens,
    retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 100, maxRetryAfterMs: 60_000 },
    sleep: async (ms) => void delays.push(ms),
    random: () => 1,
  });
}

describe('PartnerCenterHttp', () => {
  it('R3 sends bearer, JSON and id headers; keeps MS-RequestId across retries, new MS-CorrelationId per call', async () => {
    const delays: number[] = [];
    script = [json(503, {}), json(200, { ok: 1 }), json(200, { ok: 2 })];
    const http = client(undefined, delays);
    const first = await http.request({ method: 'POST', path: '/referrals', body: { a: 1 } });
    await http.request({ method: 'GET', path: '/referrals/x' });
    expect(first.body).toEqual({ ok: 1 });
    expect(first.attempts).toBe(2);
    expect(delays).toEqual([10]);
    const [a, b, c] = seen;
    expect(a!.url).toBe('/v1.0/engagements/referrals');
    expect(a!.headers.authorization).toMatch(/^Bearer token-/);
    expect(a!.headers['content-type']).toBe('application/json');
    expect(a!.headers.accept).toBe('application/json');
    expect(a!.headers['ms-requestid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(b!.headers['ms-requestid']).toBe(a!.headers['ms-requestid']);
    expect(b!.headers['ms-correlationid']).toBe(a!.headers['ms-correlationid']);
    expect(c!.headers['ms-requestid']).not.toBe(a!.headers['ms-requestid']);
    expect(c!.headers['ms-correlationid']).not.toBe(a!.headers['ms-correlationid']);
    expect(c!.headers['content-type']).toBeUndefined();
  });

  it('R27 honours Retry-After on 429 and parses the throttling body when it never clears', async () => {
    const delays: number[] = [];
    const throttled = json(
      429,
      { statusCode: 429, message: 'Rate limit is exceeded. Try again in 2 seconds.' },
      { 'retry-after': '2' },
    );
    script = [throttled, throttled, throttled];
    const error = await client(undefined, delays)
      .request({ method: 'GET', path: '/referrals' })
      .catch((e: unknown) => e);
    expect(delays).toEqual([2_000, 2_000]);
    expect(error).toBeInstanceOf(PartnerCenterError);
    const e = error as PartnerCenterError;
    expect(e).toMatchObject({ status: 429, code: 'tooManyRequests', attempts: 3, retryAfterMs: 2_000 });
    expect(e.providerMessage).toBe('Rate limit is exceeded. Try again in 2 seconds.');
    expect(e.fix).toMatch(/budget/);
  });

  it.each([400, 403, 404, 409, 412])('R3 does not retry %i', async (status) => {
    script = [json(status, { error: { code: 'x', message: 'no', target: 'referral' } }), json(200, {})];
    const error = (await client()
      .request({ method: 'PATCH', path: '/referrals/1', body: [] })
      .catch((e: unknown) => e)) as PartnerCenterError;
    expect(error.status).toBe(status);
    expect(error).toMatchObject({ code: 'x', providerMessage: 'no', target: 'referral', attempts: 1 });
    expect(seen).toHaveLength(1);
  });

  it('R28 a 401 gets one forced token refresh, then the cosell login fix', async () => {
    const tokens = new CountingTokens();
    script = [
      json(401, { error: { code: 'unauthenticated', message: 'bad token' } }),
      json(200, { ok: true }),
    ];
    await client(tokens).request({ method: 'GET', path: '/referrals' });
    expect(tokens.calls.map((c) => c.forceRefresh)).toEqual([false, true]);
    expect(seen[1]!.headers.authorization).toBe('Bearer token-2');

    script = [json(401, {}), json(401, {})];
    const error = (await client(tokens)
      .request({ method: 'GET', path: '/referrals' })
      .catch((e: unknown) => e)) as PartnerCenterError;
    expect(error.status).toBe(401);
    expect(error.fix).toContain('run `cosell login` again as a Referrals Admin user');
    expect(error.message).not.toContain('token-');
  });

  it('R28 a refused refresh surfaces as 401 with the cosell login fix', async () => {
    const tokens = new CountingTokens(
      new PartnerCenterAuthError('refreshRefused', 'refused.', 'run `cosell login`.'),
    );
    script = [json(401, {})];
    const error = (await client(tokens)
      .request({ method: 'GET', path: '/referrals' })
      .catch((e: unknown) => e)) as PartnerCenterError;
    expect(error).toMatchObject({ status: 401, code: 'refreshRefused' });
    expect(error.fix).toContain('cosell login');
  });

  it('R3 retries a dropped connection but not for a non-replayable POST', async () => {
    const drop: Handler = (req) => req.socket.destroy();
    script = [drop, json(200, { ok: true })];
    expect((await client().request({ method: 'GET', path: '/referrals' })).body).toEqual({ ok: true });

    script = [drop, json(200, { ok: true })];
    const error = (await client()
      .request({ method: 'POST', path: '/referrals', body: {}, replayable: false })
      .catch((e: unknown) => e)) as PartnerCenterError;
    expect(error).toMatchObject({ status: 0, code: 'networkError' });
    expect(seen.filter((s) => s.method === 'POST')).toHaveLength(1);
  });

  it('R3 follows an absolute nextLink on the API host only, and keeps the query out of errors', async () => {
    script = [json(200, { value: [] }), json(404, {})];
    const http = client();
    const port = new URL(base).port;
    await http.request({ method: 'GET', path: `http://127.0.0.1:${port}/v1.0/referrals?$skiptoken=abc` });
    expect(seen[0]!.url).toBe('/v1.0/referrals?$skiptoken=abc');
    const notFound = (await http
      .request({ method: 'GET', path: '/referrals', query: "$filter=email eq 'a@b.c'" })
      .catch((e: unknown) => e)) as PartnerCenterError;
    expect(notFound.path).toBe('/v1.0/engagements/referrals');
    expect(notFound.message).not.toContain('a@b.c');
    const foreign = (await http
      .request({ method: 'GET', path: 'https://evil.example/v1.0/referrals?$skiptoken=x' })
      .catch((e: unknown) => e)) as PartnerCenterError;
    expect(foreign.code).toBe('foreignHost');
    expect(seen).toHaveLength(2);
  });

  it('returns accepted non-2xx statuses instead of throwing', async () => {
    script = [json(404, { error: { code: 'itemNotFound' } })];
    const response = await client().request({ method: 'GET', path: '/registration', accept: [404] });
    expect(response.status).toBe(404);
  });
});

describe('parseErrorBody', () => {
  it.each([
    [
      { error: { code: 'invalidRequest', message: 'm', target: 'referral' } },
      { code: 'invalidRequest', message: 'm', target: 'referral' },
    ],
    [{ Error: { Code: 'accessDenied', Message: 'M' } }, { code: 'accessDenied', message: 'M' }],
    [{ statusCode: 429, message: 'Rate limit is exceeded.' }, { message: 'Rate limit is exceeded.' }],
    [
      { code: 'conflict', description: 'exists' },
      { code: 'conflict', message: 'exists' },
    ],
    ['plain text', { message: 'plain text' }],
    [undefined, {}],
  ])('R3 %j', (body, expected) => {
    expect(parseErrorBody(body)).toEqual(expected);
  });
});

describe('ReferralsClient response handling', () => {
  const referralsClient = () =>
    new ReferralsClient({
      baseUrl: base,
      tokens: new CountingTokens(),
      sleep: async () => {},
      random: () => 0,
    });

  it('R3 a response that does not match the Referral schema is a typed error naming the field', async () => {
    script = [json(200, { id: 'r1', status: 'Bogus', createdDateTime: 'yesterday' })];
    const error = (await referralsClient()
      .get('r1')
      .catch((e: unknown) => e)) as PartnerCenterError;
    expect(error).toBeInstanceOf(PartnerCenterError);
    expect(error.code).toBe('unexpectedResponse');
    expect(error.target).toBe('createdDateTime');
    expect(error.providerMessage).toContain('status');
  });

  it('R3 a create whose connection breaks after sending is not replayed and says to look it up first', async () => {
    script = [(req) => req.socket.destroy(), json(200, { id: 'dup' })];
    const error = (await referralsClient()
      .create({ name: 'x' })
      .catch((e: unknown) => e)) as PartnerCenterError;
    expect(error.code).toBe('outcomeUnknown');
    expect(error.fix).toContain('findRecentOutgoingByExternalReferenceId');
    expect(seen.filter((s) => s.method === 'POST')).toHaveLength(1);
  });
});
