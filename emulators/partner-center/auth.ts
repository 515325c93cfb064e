// An Entra ID stand-in: the device-code, refresh-token, password and client-credentials grants on the same
// paths and with the same form fields and JSON answers as login.microsoftonline.com, plus the bearer-token
// check the Partner Center APIs do (audience, user, Referrals Admin / Referrals User role).
//
// msal-node talks to this unchanged when its network client rewrites the authority host (reference §1,
// "Verified on this machine"): it needs token_type, scope, expires_in, access_token, and for user flows
// refresh_token, id_token and client_info.
import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  ACCESS_TOKEN_LIFETIME_SECONDS,
  type Audience,
  DEMO_USER,
  DEVICE_CODE_LIFETIME_SECONDS,
  GRAPH_AUDIENCE,
  KNOWN_AUDIENCES,
  OIDC_SCOPES,
  REFERRAL_ROLES,
  REFERRALS_AUDIENCE,
  REFRESH_TOKEN_INACTIVITY_DAYS,
  WEBHOOKS_AUDIENCE,
} from './constants.ts';
import { headerValue, isRecord, sendError } from './http.ts';

const DAY_MS = 86_400_000;

export interface EmulatorUser {
  username: string;
  password: string;
  name: string;
  /** Object id in the tenant: stable per user, the `oid` claim. */
  oid: string;
  /** Partner Center roles, normalised without spaces (`ReferralsAdmin`). */
  roles: string[];
}

interface TokenRecord {
  kind: 'access' | 'refresh';
  audience: string;
  /** null for app-only (client credentials) tokens. */
  username: string | null;
  clientId: string;
  expiresAt: number;
  revoked: boolean;
  /** Issued after a sign-in that performed MFA (device code): the token carries amr 'mfa'. */
  mfa?: boolean;
}

interface DeviceCodeRecord {
  deviceCode: string;
  userCode: string;
  clientId: string;
  scope: string;
  audience: string;
  expiresAt: number;
  approvedBy: string | null;
  declined: boolean;
  redeemed: boolean;
}

export interface AuthState {
  users: EmulatorUser[];
  tokens: Array<[string, TokenRecord]>;
  deviceCodes: DeviceCodeRecord[];
}

/** First-party app ids that stand for the two APIs in v1 `resource=` / GUID scopes (reference §1). */
const AUDIENCE_ALIASES: Readonly<Record<string, Audience>> = {
  '4990cffe-04e8-4e8b-808a-1175604b879f': REFERRALS_AUDIENCE,
  'fa3d9a0c-3fb0-42cc-9193-47c7ecd2edbd': WEBHOOKS_AUDIENCE,
};

export const newUserInputSchema = z.object({
  username: z.string().min(1),
  password: z.string().min(1),
  name: z.string().optional(),
  roles: z.array(z.string()).default([]),
});
export type NewUserInput = z.input<typeof newUserInputSchema>;

/** 'Referrals Admin' and 'referralsadmin' both mean the documented role `ReferralsAdmin`. */
export function normaliseRole(role: string): string {
  const compact = role.replace(/\s+/g, '');
  return REFERRAL_ROLES.find((known) => known.toLowerCase() === compact.toLowerCase()) ?? compact;
}

export function makeUser(input: NewUserInput): EmulatorUser {
  const parsed = newUserInputSchema.parse(input);
  return {
    username: parsed.username,
    password: parsed.password,
    name: parsed.name ?? parsed.username.split('@')[0] ?? parsed.username,
    oid: randomUUID(),
    roles: parsed.roles.map(normaliseRole),
  };
}

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

function jwt(claims: Record<string, unknown>): string {
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: 'partner-center-emulator' }));
  // Not verifiable on purpose: the emulator validates tokens by lookup, and nobody should trust them elsewhere.
  return `${header}.${base64url(JSON.stringify(claims))}.${randomBytes(32).toString('base64url')}`;
}

/** Entra's error answer (`AADSTSnnnnn: ...` plus the code list). */
class EntraError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly aadsts: number,
    description: string,
  ) {
    super(description);
  }
}

type TokenResponse = Record<string, string | number>;

interface ResolvedScope {
  audience: string;
  /** The resource scopes as requested (OIDC scopes dropped), echoed back in `scope`. */
  resourceScopes: string[];
}

export interface AuthOptions {
  tenantId: string;
  deviceCodeApproval: 'auto' | 'manual';
  /** The authority host as clients see it, e.g. http://127.0.0.1:4010 (known after listen). */
  authorityHost: () => string;
  nowMs?: () => number;
}

export class AuthService {
  private users = new Map<string, EmulatorUser>();
  private tokens = new Map<string, TokenRecord>();
  private deviceCodes = new Map<string, DeviceCodeRecord>();
  private readonly nowMs: () => number;
  private extraUsers: EmulatorUser[] = [];
  /** MFA enforcement (reference §1): off by default, so scripts and tests keep their password grant. */
  private requireMfa = false;

  constructor(private readonly options: AuthOptions) {
    this.nowMs = options.nowMs ?? Date.now;
    this.reset();
  }

  get defaultUser(): EmulatorUser {
    return (
      this.users.get(DEMO_USER.username.toLowerCase()) ??
      makeUser({ ...DEMO_USER, roles: [...DEMO_USER.roles] })
    );
  }

  /** Back to the start: the demo user (plus seeded users), no tokens, no device codes. */
  reset(seedUsers: EmulatorUser[] = this.extraUsers): void {
    this.extraUsers = seedUsers;
    this.users.clear();
    this.tokens.clear();
    this.deviceCodes.clear();
    this.putUser(makeUser({ ...DEMO_USER, roles: [...DEMO_USER.roles] }));
    for (const user of seedUsers) this.putUser(user);
  }

  putUser(user: EmulatorUser): void {
    const existing = this.users.get(user.username.toLowerCase());
    // Keep the object id stable when a user is redefined, as Entra does when only roles change.
    this.users.set(user.username.toLowerCase(), existing ? { ...user, oid: existing.oid } : user);
  }

  toJSON(): AuthState {
    return {
      users: [...this.users.values()],
      tokens: [...this.tokens],
      deviceCodes: [...this.deviceCodes.values()],
    };
  }

  load(state: unknown): void {
    if (!isRecord(state)) return;
    const parsed = state as Partial<AuthState>;
    if (Array.isArray(parsed.users)) {
      this.users.clear();
      for (const user of parsed.users) this.users.set(user.username.toLowerCase(), user);
    }
    if (Array.isArray(parsed.tokens)) this.tokens = new Map(parsed.tokens);
    if (Array.isArray(parsed.deviceCodes)) {
      this.deviceCodes = new Map(parsed.deviceCodes.map((code) => [code.deviceCode, code]));
    }
  }

  /** Invalidates every access and refresh token: what expired or reset user credentials look like. */
  revokeAll(): number {
    let count = 0;
    for (const record of this.tokens.values()) {
      if (!record.revoked) count++;
      record.revoked = true;
    }
    return count;
  }

  /** Every token as if issued `days` earlier: refresh tokens left unused past 90 days stop working. */
  ageTokens(days: number): number {
    for (const record of this.tokens.values()) record.expiresAt -= days * DAY_MS;
    return this.tokens.size;
  }

  /** Ends the life of every access token now; refresh tokens keep working. */
  expireAccessTokens(): number {
    let count = 0;
    const now = this.nowMs();
    for (const record of this.tokens.values()) {
      if (record.kind === 'access' && record.expiresAt > now) {
        record.expiresAt = now;
        count++;
      }
    }
    return count;
  }

  /**
   * The bearer check Partner Center does. Returns false after sending the 401/403 itself.
   * The Referrals API is App+User only; the Webhooks API also takes app-only tokens (reference §1).
   */
  async authorize(request: FastifyRequest, reply: FastifyReply, audience: string): Promise<boolean> {
    const deny401 = (message: string, error?: string) => {
      const parts = [
        `Bearer realm="${audience}"`,
        `authorization_uri="${this.options.authorityHost()}/${this.options.tenantId}/oauth2/authorize"`,
      ];
      if (error) parts.push(`error="${error}"`, `error_description="${message.replace(/"/g, "'")}"`);
      reply.header('WWW-Authenticate', parts.join(', '));
      sendError(reply, 401, 'unauthenticated', message, 'Authorization');
      return false;
    };
    const header = headerValue(request.headers.authorization);
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) {
      return deny401(
        `The request has no bearer token: send 'Authorization: Bearer <token>' with a token issued for ${audience}.`,
      );
    }
    const record = this.tokens.get(match[1]);
    if (record?.kind !== 'access')
      return deny401('The access token is not valid: it was not issued by this tenant.', 'invalid_token');
    if (record.revoked) {
      return deny401(
        'The access token has been revoked (the user credentials expired or were reset): sign in again to get new tokens.',
        'invalid_token',
      );
    }
    if (record.expiresAt <= this.nowMs()) {
      return deny401('The access token has expired: get a new one with the refresh token.', 'invalid_token');
    }
    if (record.audience !== audience) {
      return deny401(
        `The access token was issued for ${record.audience}, but this API accepts only tokens for ${audience}: request a token with scope ${audience}/.default.`,
        'invalid_token',
      );
    }
    if (audience !== REFERRALS_AUDIENCE) return true;
    if (this.requireMfa && record.username !== null && !record.mfa) {
      return deny401(
        '900421: Multi-factor authentication is required for App+User calls to Partner Center; this token was issued without MFA (amr has no mfa). Sign in again with an interactive flow that performs MFA.',
        'insufficient_claims',
      );
    }
    if (record.username === null) {
      return deny401(
        'The Referrals API supports App+User authentication only; this token was issued to an application without a user (client credentials). Sign in as a user with the Referrals Admin or Referrals User role (device code flow).',
        'invalid_token',
      );
    }
    const user = this.users.get(record.username.toLowerCase());
    if (!user)
      return deny401(
        `The user ${record.username} no longer exists in this tenant: sign in again.`,
        'invalid_token',
      );
    if (!user.roles.some((role) => (REFERRAL_ROLES as readonly string[]).includes(role))) {
      sendError(
        reply,
        403,
        'accessDenied',
        `The user ${user.username} does not have the Referrals Admin or Referrals User role in Partner Center. Ask a Partner Center admin to assign the Referrals Admin role (Account settings > User management), then sign in again.`,
        'referral',
      );
      return false;
    }
    return true;
  }

  registerTokenRoutes(app: FastifyInstance): void {
    const handle =
      (version: 'v1' | 'v2', action: (form: Record<string, string>, version: 'v1' | 'v2') => TokenResponse) =>
      async (request: FastifyRequest, reply: FastifyReply) => {
        const form = formOf(request.body);
        try {
          return reply.header('Cache-Control', 'no-store').send(action(form, version));
        } catch (error) {
          if (!(error instanceof EntraError)) throw error;
          return reply.code(error.status).send(this.entraErrorBody(error));
        }
      };
    app.post(
      '/:tenant/oauth2/v2.0/token',
      handle('v2', (form, v) => this.token(form, v)),
    );
    app.post(
      '/:tenant/oauth2/token',
      handle('v1', (form, v) => this.token(form, v)),
    );
    app.post(
      '/:tenant/oauth2/v2.0/devicecode',
      handle('v2', (form, v) => this.startDeviceCode(form, v)),
    );
    app.post(
      '/:tenant/oauth2/devicecode',
      handle('v1', (form, v) => this.startDeviceCode(form, v)),
    );
    // Discovery documents, for clients that look before they ask (msal skips them for login.microsoftonline.com).
    app.get('/:tenant/v2.0/.well-known/openid-configuration', async (request) => {
      const { tenant } = request.params as { tenant: string };
      const base = `${this.options.authorityHost()}/${tenant}`;
      return {
        issuer: `${this.options.authorityHost()}/${this.options.tenantId}/v2.0`,
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        token_endpoint: `${base}/oauth2/v2.0/token`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        token_endpoint_auth_methods_supported: [
          'client_secret_post',
          'private_key_jwt',
          'client_secret_basic',
        ],
        tenant_region_scope: 'NA',
      };
    });
    app.get('/:tenant/discovery/v2.0/keys', async () => ({ keys: [] }));
  }

  registerControlRoutes(app: FastifyInstance, prefix: string): void {
    const publicUser = (user: EmulatorUser) => ({
      username: user.username,
      name: user.name,
      oid: user.oid,
      roles: user.roles,
    });
    app.get(`${prefix}/users`, async () => [...this.users.values()].map(publicUser));
    app.post(`${prefix}/users`, async (request, reply) => {
      const parsed = newUserInputSchema.safeParse(request.body);
      if (!parsed.success) {
        return sendError(
          reply,
          400,
          'invalidRequest',
          `Body must be {username, password, roles: [...]}: ${parsed.error.message}`,
          'body',
        );
      }
      this.putUser(makeUser(parsed.data));
      return reply.code(201).send(publicUser(this.users.get(parsed.data.username.toLowerCase())!));
    });
    app.delete(`${prefix}/users/:username`, async (request, reply) => {
      const { username } = request.params as { username: string };
      if (!this.users.delete(username.toLowerCase()))
        return sendError(reply, 404, 'itemNotFound', `No user ${username}.`, 'username');
      return reply.code(204).send();
    });
    app.post(`${prefix}/tokens/revoke`, async () => ({ revoked: this.revokeAll() }));
    app.post(`${prefix}/tokens/expire-access`, async () => ({ expired: this.expireAccessTokens() }));
    app.put(`${prefix}/auth/mfa`, async (request, reply) => {
      const required = (request.body as { required?: unknown } | undefined)?.required;
      if (typeof required !== 'boolean')
        return sendError(reply, 400, 'invalidRequest', 'Expected {required: true|false}.', 'required');
      this.requireMfa = required;
      return { required };
    });
    app.post(`${prefix}/tokens/age`, async (request, reply) => {
      const days = Number((request.body as { days?: unknown } | undefined)?.days);
      if (!Number.isFinite(days) || days <= 0)
        return sendError(reply, 400, 'invalidRequest', 'Expected {days: a positive number}.', 'days');
      return { aged: this.ageTokens(days) };
    });
    app.get(`${prefix}/device-codes`, async () =>
      [...this.deviceCodes.values()].map((code) => ({
        user_code: code.userCode,
        client_id: code.clientId,
        scope: code.scope,
        expires_at: new Date(code.expiresAt).toISOString(),
        status: this.deviceCodeStatus(code),
        approved_by: code.approvedBy,
      })),
    );
    // The device code named in the URL, or a 404 already sent.
    const codeOr404 = (request: FastifyRequest, reply: FastifyReply) => {
      const { userCode } = request.params as { userCode: string };
      const code = [...this.deviceCodes.values()].find(
        (c) => c.userCode.toUpperCase() === userCode.toUpperCase(),
      );
      if (!code)
        sendError(reply, 404, 'itemNotFound', `No device code with user code ${userCode}.`, 'userCode');
      return code;
    };
    app.post(`${prefix}/device-codes/:userCode/approve`, async (request, reply) => {
      const code = codeOr404(request, reply);
      if (!code) return reply;
      const wanted =
        isRecord(request.body) && typeof request.body.username === 'string'
          ? request.body.username
          : this.defaultUser.username;
      const user = this.users.get(wanted.toLowerCase());
      if (!user)
        return sendError(
          reply,
          400,
          'invalidRequest',
          `No user ${wanted}: create it with POST ${prefix}/users first.`,
          'username',
        );
      code.approvedBy = user.username;
      code.declined = false;
      return { user_code: code.userCode, status: this.deviceCodeStatus(code), approved_by: user.username };
    });
    app.post(`${prefix}/device-codes/:userCode/decline`, async (request, reply) => {
      const code = codeOr404(request, reply);
      if (!code) return reply;
      code.declined = true;
      code.approvedBy = null;
      return { user_code: code.userCode, status: this.deviceCodeStatus(code) };
    });
  }

  private deviceCodeStatus(code: DeviceCodeRecord): string {
    if (code.redeemed) return 'redeemed';
    if (code.expiresAt <= this.nowMs()) return 'expired';
    if (code.declined) return 'declined';
    return code.approvedBy ? 'approved' : 'pending';
  }

  private entraErrorBody(error: EntraError): Record<string, unknown> {
    const traceId = randomUUID();
    const correlationId = randomUUID();
    const timestamp = new Date(this.nowMs())
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, 'Z');
    return {
      error: error.error,
      error_description: `AADSTS${error.aadsts}: ${error.message} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
      error_codes: [error.aadsts],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `${this.options.authorityHost()}/error?code=${error.aadsts}`,
    };
  }

  private requireClientId(form: Record<string, string>): string {
    const clientId = form.client_id;
    if (!clientId) {
      throw new EntraError(
        400,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'client_id'.",
      );
    }
    return clientId;
  }

  /** Works out which API a request is for from `scope` (v2) or `resource` (v1). */
  private resolveScope(form: Record<string, string>): ResolvedScope {
    if (form.resource) {
      const audience = audienceOf(form.resource);
      if (!audience) throw unknownResource(form.resource);
      return { audience, resourceScopes: [`${audience}/.default`] };
    }
    const scopes = (form.scope ?? '').split(/\s+/).filter((scope) => scope !== '');
    const resourceScopes = scopes.filter((scope) => !(OIDC_SCOPES as readonly string[]).includes(scope));
    if (resourceScopes.length === 0)
      return { audience: GRAPH_AUDIENCE, resourceScopes: [`${GRAPH_AUDIENCE}/User.Read`] };
    const audiences = new Set<string>();
    for (const scope of resourceScopes) {
      const audience = audienceOf(scope.replace(/\/[^/]*$/, '')) ?? audienceOf(scope);
      if (!audience) throw unknownResource(scope);
      audiences.add(audience);
    }
    if (audiences.size > 1) {
      throw new EntraError(
        400,
        'invalid_request',
        28000,
        'Provided value for the input parameter scope is not valid because it contains more than one resource. Request one token per API.',
      );
    }
    return { audience: [...audiences][0]!, resourceScopes };
  }

  private token(form: Record<string, string>, version: 'v1' | 'v2'): TokenResponse {
    const grantType = form.grant_type;
    const clientId = this.requireClientId(form);
    if (grantType === 'password') {
      const user = this.users.get((form.username ?? '').toLowerCase());
      if (!user || user.password !== form.password) {
        throw new EntraError(
          400,
          'invalid_grant',
          50126,
          'Error validating credentials due to invalid username or password.',
        );
      }
      return this.issueUserTokens(user, this.resolveScope(form), clientId, version);
    }
    if (grantType === 'urn:ietf:params:oauth:grant-type:device_code' || grantType === 'device_code') {
      return this.redeemDeviceCode(form, clientId, version);
    }
    if (grantType === 'refresh_token') {
      const record = this.tokens.get(form.refresh_token ?? '');
      if (record?.kind !== 'refresh') {
        throw new EntraError(
          400,
          'invalid_grant',
          9002313,
          'Invalid request. Request is malformed or invalid: the refresh token is not valid.',
        );
      }
      if (record.revoked) {
        throw new EntraError(
          400,
          'invalid_grant',
          50173,
          'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.',
        );
      }
      if (record.expiresAt <= this.nowMs()) {
        throw new EntraError(
          400,
          'invalid_grant',
          700082,
          `The refresh token has expired due to inactivity. The token was inactive for ${REFRESH_TOKEN_INACTIVITY_DAYS}.00:00:00.`,
        );
      }
      const user = record.username ? this.users.get(record.username.toLowerCase()) : undefined;
      if (!user)
        throw new EntraError(
          400,
          'invalid_grant',
          50034,
          'The user account does not exist in this directory.',
        );
      // Entra refresh tokens are multi-resource: the same one yields a token for any API the app may call.
      const scope =
        form.scope || form.resource
          ? this.resolveScope(form)
          : { audience: record.audience, resourceScopes: [`${record.audience}/.default`] };
      return this.issueUserTokens(user, scope, clientId, version, record.mfa === true);
    }
    if (grantType === 'client_credentials') {
      if (!form.client_secret && !form.client_assertion) {
        throw new EntraError(
          401,
          'invalid_client',
          7000218,
          "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
      }
      const scope = this.resolveScope(form);
      if (!form.resource && !scope.resourceScopes.every((s) => s.endsWith('/.default'))) {
        throw new EntraError(
          400,
          'invalid_scope',
          1002012,
          `The provided value for scope ${form.scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
        );
      }
      return this.issueAppToken(scope, clientId, version);
    }
    throw new EntraError(
      400,
      'unsupported_grant_type',
      70003,
      `The app requested an unsupported grant type '${grantType ?? ''}'.`,
    );
  }

  private startDeviceCode(form: Record<string, string>, version: 'v1' | 'v2'): TokenResponse {
    const clientId = this.requireClientId(form);
    const scope = this.resolveScope(form);
    const alphabet = 'BCDFGHJKLMNPQRSTVWXZ23456789';
    const userCode = [...randomBytes(9)].map((byte) => alphabet[byte % alphabet.length]).join('');
    const record: DeviceCodeRecord = {
      deviceCode: randomBytes(48).toString('base64url'),
      userCode,
      clientId,
      scope: form.scope ?? form.resource ?? '',
      audience: scope.audience,
      expiresAt: this.nowMs() + DEVICE_CODE_LIFETIME_SECONDS * 1000,
      approvedBy: this.options.deviceCodeApproval === 'auto' ? this.defaultUser.username : null,
      declined: false,
      redeemed: false,
    };
    this.deviceCodes.set(record.deviceCode, record);
    const verification = `${this.options.authorityHost()}/devicelogin`;
    return {
      user_code: record.userCode,
      device_code: record.deviceCode,
      [version === 'v2' ? 'verification_uri' : 'verification_url']: verification,
      expires_in: DEVICE_CODE_LIFETIME_SECONDS,
      interval: 1,
      message: `To sign in, use a web browser to open the page ${verification} and enter the code ${record.userCode} to authenticate.`,
    };
  }

  private redeemDeviceCode(
    form: Record<string, string>,
    clientId: string,
    version: 'v1' | 'v2',
  ): TokenResponse {
    const record = this.deviceCodes.get(form.device_code ?? form.code ?? '');
    if (!record || record.clientId !== clientId) {
      throw new EntraError(
        400,
        'invalid_grant',
        70000,
        "The provided value for the input parameter 'device_code' is not valid.",
      );
    }
    if (record.redeemed)
      throw new EntraError(
        400,
        'invalid_grant',
        54005,
        'OAuth2 Authorization code was already redeemed, please retry with a new valid code.',
      );
    if (record.expiresAt <= this.nowMs())
      throw new EntraError(400, 'expired_token', 70020, 'The provided device code has expired.');
    if (record.declined)
      throw new EntraError(400, 'authorization_declined', 70000, 'The user declined the sign-in.');
    if (!record.approvedBy) {
      throw new EntraError(
        400,
        'authorization_pending',
        70016,
        'OAuth 2.0 device flow error. Authorization is pending. Continue polling.',
      );
    }
    const user = this.users.get(record.approvedBy.toLowerCase());
    if (!user)
      throw new EntraError(400, 'invalid_grant', 50034, 'The user account does not exist in this directory.');
    record.redeemed = true;
    const scope =
      form.scope || form.resource ? this.resolveScope(form) : this.resolveScope({ scope: record.scope });
    // The browser sign-in of the device-code flow is where Entra performs MFA.
    return this.issueUserTokens(user, scope, clientId, version, true);
  }

  private issueUserTokens(
    user: EmulatorUser,
    scope: ResolvedScope,
    clientId: string,
    version: 'v1' | 'v2',
    mfa = false,
  ): TokenResponse {
    const now = Math.floor(this.nowMs() / 1000);
    const exp = now + ACCESS_TOKEN_LIFETIME_SECONDS;
    const tenantId = this.options.tenantId;
    const accessToken = jwt({
      aud: scope.audience,
      iss: `https://sts.windows.net/${tenantId}/`,
      iat: now,
      nbf: now,
      exp,
      appid: clientId,
      idtyp: 'user',
      amr: mfa ? ['pwd', 'mfa'] : ['pwd'],
      name: user.name,
      oid: user.oid,
      roles: user.roles,
      scp: 'user_impersonation',
      tid: tenantId,
      unique_name: user.username,
      upn: user.username,
      ver: '1.0',
      jti: randomUUID(),
    });
    const refreshToken = `0.emulator.${randomBytes(48).toString('base64url')}`;
    this.tokens.set(accessToken, {
      kind: 'access',
      audience: scope.audience,
      username: user.username,
      clientId,
      expiresAt: exp * 1000,
      revoked: false,
      mfa,
    });
    this.tokens.set(refreshToken, {
      kind: 'refresh',
      audience: scope.audience,
      username: user.username,
      clientId,
      expiresAt: this.nowMs() + REFRESH_TOKEN_INACTIVITY_DAYS * DAY_MS,
      revoked: false,
      mfa,
    });
    const idToken = jwt({
      aud: clientId,
      iss: `${this.options.authorityHost()}/${tenantId}/v2.0`,
      iat: now,
      nbf: now,
      exp,
      name: user.name,
      oid: user.oid,
      preferred_username: user.username,
      sub: user.oid,
      tid: tenantId,
      ver: '2.0',
    });
    const common = {
      token_type: 'Bearer',
      access_token: accessToken,
      refresh_token: refreshToken,
      id_token: idToken,
    };
    if (version === 'v1') {
      return {
        ...common,
        resource: scope.audience,
        expires_in: String(ACCESS_TOKEN_LIFETIME_SECONDS),
        expires_on: String(exp),
        not_before: String(now),
        scope: 'user_impersonation',
      };
    }
    return {
      ...common,
      scope: scope.resourceScopes.join(' '),
      expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
      ext_expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
      client_info: base64url(JSON.stringify({ uid: user.oid, utid: tenantId })),
    };
  }

  private issueAppToken(scope: ResolvedScope, clientId: string, version: 'v1' | 'v2'): TokenResponse {
    const now = Math.floor(this.nowMs() / 1000);
    const exp = now + ACCESS_TOKEN_LIFETIME_SECONDS;
    const accessToken = jwt({
      aud: scope.audience,
      iss: `https://sts.windows.net/${this.options.tenantId}/`,
      iat: now,
      nbf: now,
      exp,
      appid: clientId,
      idtyp: 'app',
      oid: randomUUID(),
      roles: [],
      tid: this.options.tenantId,
      ver: '1.0',
      jti: randomUUID(),
    });
    this.tokens.set(accessToken, {
      kind: 'access',
      audience: scope.audience,
      username: null,
      clientId,
      expiresAt: exp * 1000,
      revoked: false,
    });
    if (version === 'v1') {
      return {
        token_type: 'Bearer',
        access_token: accessToken,
        resource: scope.audience,
        expires_in: String(ACCESS_TOKEN_LIFETIME_SECONDS),
        expires_on: String(exp),
      };
    }
    return {
      token_type: 'Bearer',
      access_token: accessToken,
      scope: scope.resourceScopes.join(' '),
      expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
      ext_expires_in: ACCESS_TOKEN_LIFETIME_SECONDS,
    };
  }
}

function formOf(body: unknown): Record<string, string> {
  if (!isRecord(body)) return {};
  const form: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) if (typeof value === 'string') form[key] = value;
  return form;
}

function audienceOf(resource: string): string | undefined {
  const trimmed = resource.replace(/\/+$/, '');
  if (AUDIENCE_ALIASES[trimmed]) return AUDIENCE_ALIASES[trimmed];
  return (KNOWN_AUDIENCES as readonly string[]).find((audience) => audience === trimmed);
}

function unknownResource(resource: string): EntraError {
  return new EntraError(
    400,
    'invalid_resource',
    500011,
    `The resource principal named ${resource} was not found in the tenant. Use ${REFERRALS_AUDIENCE}/.default (Referrals API) or ${WEBHOOKS_AUDIENCE}/.default (Webhooks API).`,
  );
}
