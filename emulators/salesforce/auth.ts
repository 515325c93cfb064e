/**
 * OAuth 2.0 token endpoint behaviour of a Salesforce org: the JWT bearer grant (RS256 assertion verified against
 * the connected app's certificate, iss/sub/aud/exp checked) and the client credentials grant. Sessions are opaque
 * `00D…!…` tokens held in memory; expiring them makes the API answer 401 INVALID_SESSION_ID.
 */
import { createPublicKey, randomBytes, verify, X509Certificate } from 'node:crypto';

export interface ConnectedApp {
  clientId: string;
  clientSecret: string;
  /** Username of the integration (run-as) user, the JWT `sub`. */
  username: string;
  certificatePem: string;
}

export interface Session {
  accessToken: string;
  userId: string;
  issuedAt: number;
  expiresAt: number;
}

/** Error in the OAuth shape `{"error":"invalid_grant","error_description":"..."}`. */
export class OAuthError extends Error {
  readonly status: number;
  readonly error: string;
  constructor(status: number, error: string, description: string) {
    super(description);
    this.status = status;
    this.error = error;
  }
}

/** Real org sessions default to 2 hours of inactivity; the emulator uses a fixed lifetime. */
const SESSION_LIFETIME_MS = 2 * 60 * 60 * 1000;
/** Salesforce accepts JWT assertions whose exp is at most a few minutes ahead; allow clock skew like it does. */
const CLOCK_SKEW_SECONDS = 300;

export class SessionRegistry {
  private sessions = new Map<string, Session>();

  constructor(private readonly orgId: string) {}

  mint(userId: string, now: number): Session {
    const accessToken = `${this.orgId.slice(0, 15)}!${randomBytes(48).toString('base64url')}`;
    const session = { accessToken, userId, issuedAt: now, expiresAt: now + SESSION_LIFETIME_MS };
    this.sessions.set(accessToken, session);
    return session;
  }

  find(accessToken: string, now: number): Session | undefined {
    const session = this.sessions.get(accessToken);
    if (!session || session.expiresAt <= now) return undefined;
    return session;
  }

  expireAll(): number {
    const count = this.sessions.size;
    this.sessions.clear();
    return count;
  }
}

function base64UrlJson(part: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  if (!parsed || typeof parsed !== 'object') throw new Error('not an object');
  return parsed as Record<string, unknown>;
}

function sameAudience(a: string, b: string): boolean {
  return a.replace(/\/+$/, '').toLowerCase() === b.replace(/\/+$/, '').toLowerCase();
}

/**
 * Verifies a JWT bearer assertion and returns the username it asks for. Salesforce answers every failure with
 * `invalid_grant`; the description says which check failed.
 */
export function verifyJwtAssertion(
  assertion: string,
  app: ConnectedApp,
  acceptedAudiences: readonly string[],
  nowMs: number,
): string {
  const parts = assertion.split('.');
  const [headerPart, payloadPart, signaturePart] = parts;
  if (parts.length !== 3 || !headerPart || !payloadPart || signaturePart === undefined) {
    throw new OAuthError(400, 'invalid_grant', 'invalid assertion');
  }
  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = base64UrlJson(headerPart);
    claims = base64UrlJson(payloadPart);
  } catch {
    throw new OAuthError(400, 'invalid_grant', 'invalid assertion');
  }
  if (header['alg'] !== 'RS256')
    throw new OAuthError(400, 'invalid_grant', 'invalid assertion: alg must be RS256');
  const publicKey = createPublicKey(
    new X509Certificate(app.certificatePem).publicKey.export({ type: 'spki', format: 'pem' }),
  );
  const signed = verify(
    'RSA-SHA256',
    Buffer.from(`${headerPart}.${payloadPart}`),
    publicKey,
    Buffer.from(signaturePart, 'base64url'),
  );
  if (!signed)
    throw new OAuthError(400, 'invalid_grant', 'invalid assertion: signature does not match the certificate');
  if (claims['iss'] !== app.clientId)
    throw new OAuthError(400, 'invalid_client_id', 'client identifier invalid');
  const audiences = Array.isArray(claims['aud']) ? claims['aud'] : [claims['aud']];
  if (
    !audiences.some((aud) => typeof aud === 'string' && acceptedAudiences.some((a) => sameAudience(a, aud)))
  ) {
    throw new OAuthError(400, 'invalid_grant', 'audience is invalid');
  }
  const exp = claims['exp'];
  if (typeof exp !== 'number' || exp * 1000 <= nowMs - CLOCK_SKEW_SECONDS * 1000) {
    throw new OAuthError(400, 'invalid_grant', 'expired access/refresh token');
  }
  if (typeof claims['sub'] !== 'string' || claims['sub'].toLowerCase() !== app.username.toLowerCase()) {
    throw new OAuthError(400, 'invalid_grant', "user hasn't approved this consumer");
  }
  return claims['sub'];
}
