/** `POST /services/oauth2/token` (JWT bearer and client credentials) and the identity URL. */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { type ConnectedApp, OAuthError, verifyJwtAssertion } from '../auth.ts';
import type { SalesforceOrg } from '../org.ts';

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** Audiences a real org accepts for the JWT bearer flow, besides the emulator's own login URL. */
const PUBLIC_LOGIN_AUDIENCES = ['https://login.salesforce.com', 'https://test.salesforce.com'];

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Client credentials may come in the form body or as HTTP Basic auth. */
function clientCredentials(
  body: Record<string, string>,
  authorization: string | undefined,
): [string, string] {
  if (authorization?.startsWith('Basic ')) {
    const decoded = Buffer.from(authorization.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return [decodeURIComponent(decoded.slice(0, colon)), decodeURIComponent(decoded.slice(colon + 1))];
  }
  return [body['client_id'] ?? '', body['client_secret'] ?? ''];
}

export function registerOAuthRoutes(
  app: FastifyInstance,
  org: SalesforceOrg,
  connectedApp: ConnectedApp,
  urls: () => { loginUrl: string; instanceUrl: string },
): void {
  const sendOAuthError = (reply: FastifyReply, error: OAuthError) =>
    reply.code(error.status).send({ error: error.error, error_description: error.message });

  app.post('/services/oauth2/token', async (request, reply) => {
    const path = '/services/oauth2/token';
    const fault = org.faults.take('POST', path);
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    const record = (status: number) =>
      org.calls.record({
        method: 'POST',
        endpoint: path,
        path,
        status,
        countedAsApiCall: false,
        kind: 'token',
      });
    if (fault?.error) {
      record(fault.error.status);
      return reply.code(fault.error.status).send(fault.error.body);
    }
    const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Record<
      string,
      string
    >;
    const { loginUrl, instanceUrl } = urls();
    try {
      const grant = body['grant_type'];
      let userId: string;
      if (grant === JWT_BEARER_GRANT) {
        verifyJwtAssertion(
          body['assertion'] ?? '',
          connectedApp,
          [loginUrl, ...PUBLIC_LOGIN_AUDIENCES],
          Date.now(),
        );
        userId = org.integrationUserId;
      } else if (grant === 'client_credentials') {
        const [clientId, clientSecret] = clientCredentials(body, request.headers.authorization);
        if (!safeEqual(clientId, connectedApp.clientId))
          throw new OAuthError(400, 'invalid_client_id', 'client identifier invalid');
        if (!safeEqual(clientSecret, connectedApp.clientSecret))
          throw new OAuthError(400, 'invalid_client', 'invalid client credentials');
        userId = org.integrationUserId;
      } else {
        throw new OAuthError(400, 'unsupported_grant_type', 'grant type not supported');
      }
      const session = org.sessions.mint(userId, Date.now());
      const id = `${loginUrl}/id/${org.orgId}/${userId}`;
      const issuedAt = String(session.issuedAt);
      record(200);
      return reply.send({
        access_token: session.accessToken,
        signature: createHmac('sha256', connectedApp.clientSecret)
          .update(id + issuedAt)
          .digest('base64'),
        scope: 'api',
        instance_url: instanceUrl,
        id,
        token_type: 'Bearer',
        issued_at: issuedAt,
      });
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      record(error.status);
      return sendOAuthError(reply, error);
    }
  });

  app.get('/id/:orgId/:userId', async (request, reply) => {
    const token = /^(?:Bearer|OAuth)\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    const session = token ? org.sessions.find(token, Date.now()) : undefined;
    if (!session) return reply.code(403).send('Bad_OAuth_Token');
    const user = org.store.get('User', session.userId);
    const { instanceUrl } = urls();
    return reply.send({
      id: `${urls().loginUrl}/id/${org.orgId}/${session.userId}`,
      user_id: session.userId,
      organization_id: org.orgId,
      username: user?.values['Username'],
      display_name: user?.values['Name'],
      email: user?.values['Email'],
      active: true,
      urls: {
        rest: `${instanceUrl}/services/data/v{version}/`,
        sobjects: `${instanceUrl}/services/data/v{version}/sobjects/`,
        query: `${instanceUrl}/services/data/v{version}/query/`,
      },
    });
  });
}
