// The Referrals API routes (reference §2), under /v1.0/engagements.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { eTagMatches } from './clock.ts';
import { REFERRALS_AUDIENCE, REFERRALS_PREFIX } from './constants.ts';
import { headerValue, sendError } from './http.ts';
import { encodeSkipToken, ListViews, listPage, listQueryOf, selectFields } from './paging.ts';
import type { ReferralStore, StoredReferral } from './store.ts';

export interface ReferralRoutesOptions {
  store: ReferralStore;
  authorize: (request: FastifyRequest, reply: FastifyReply, audience: string) => Promise<boolean>;
  pageSize: number;
}

/** Base URL as the caller reached us, so links work behind a port mapping or another host name. */
export function requestBase(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/** The wire form of a stored referral: plus `links`, which depend on where the caller reached us. */
export function renderReferral(referral: StoredReferral, base: string): Record<string, unknown> {
  const api = `${base}${REFERRALS_PREFIX}`;
  return {
    ...referral,
    links: {
      self: { uri: `${api}/referrals/${String(referral.id)}`, method: 'GET' },
      relatedReferrals: {
        uri: `${api}/referrals?$filter=engagementId eq '${String(referral.engagementId)}'`,
        method: 'GET',
      },
    },
  };
}

export function registerReferralRoutes(app: FastifyInstance, options: ReferralRoutesOptions): void {
  const { store, pageSize } = options;
  const views = new ListViews();
  const collection = `${REFERRALS_PREFIX}/referrals`;
  const item = `${collection}/:id`;
  const guard = {
    onRequest: (request: FastifyRequest, reply: FastifyReply) => authorizeOrStop(request, reply),
  };
  async function authorizeOrStop(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> {
    // Returning the reply tells fastify the 401/403 is already sent and the handler must not run.
    return (await options.authorize(request, reply, REFERRALS_AUDIENCE)) ? undefined : reply;
  }
  const withETag = (reply: FastifyReply, referral: StoredReferral) =>
    reply.header('ETag', String(referral.eTag));

  app.get(collection, guard, async (request) => {
    const query = listQueryOf(request.query as Record<string, string | undefined>);
    const page = listPage(store, views, query, pageSize);
    const base = requestBase(request);
    const body: Record<string, unknown> = {
      '@odata.context': `${base}${REFERRALS_PREFIX}/$metadata#Referrals`,
      // Page count, as in the documented samples (100 on a page that has a nextLink).
      '@odata.count': page.items.length,
      value: page.items.map((referral) => selectFields(renderReferral(referral, base), query.select)),
    };
    if (page.next) body['@odata.nextLink'] = `${base}${collection}?$skiptoken=${encodeSkipToken(page.next)}`;
    return body;
  });

  app.get(item, guard, async (request, reply) => {
    const { id } = request.params as { id: string };
    const referral = store.get(id);
    if (!referral)
      return sendError(reply, 404, 'itemNotFound', `Referral '${id}' was not found.`, 'referral');
    const base = requestBase(request);
    withETag(reply, referral);
    return {
      '@odata.context': `${base}${REFERRALS_PREFIX}/$metadata#Referrals/$entity`,
      ...renderReferral(referral, base),
    };
  });

  app.post(collection, guard, async (request, reply) => {
    const referral = store.createByPartner(request.body);
    withETag(reply, referral);
    return reply.code(200).send(renderReferral(referral, requestBase(request)));
  });

  const answerUpdate = (
    request: FastifyRequest,
    reply: FastifyReply,
    referral: StoredReferral,
    alwaysBody: boolean,
  ) => {
    withETag(reply, referral);
    const prefer = headerValue(request.headers.prefer) ?? '';
    if (alwaysBody || /return=representation/i.test(prefer)) {
      if (!alwaysBody) reply.header('Preference-Applied', 'return=representation');
      return reply.code(200).send(renderReferral(referral, requestBase(request)));
    }
    return reply.code(204).send();
  };

  app.patch(item, guard, async (request, reply) => {
    const { id } = request.params as { id: string };
    const referral = store.patchByPartner(
      id,
      request.body,
      headerValue(request.headers['if-match']),
      eTagMatches,
    );
    return answerUpdate(request, reply, referral, false);
  });

  app.put(item, guard, async (request, reply) => {
    const { id } = request.params as { id: string };
    const referral = store.replaceByPartner(
      id,
      request.body,
      headerValue(request.headers['if-match']),
      eTagMatches,
    );
    return answerUpdate(request, reply, referral, true);
  });

  // Referrals cannot be deleted (no DELETE in any source); answer like the service does for an unknown verb.
  const notAllowed = (allowed: string) => async (request: FastifyRequest, reply: FastifyReply) => {
    reply.header('Allow', allowed);
    return sendError(
      reply,
      405,
      'methodNotAllowed',
      `${request.method} is not supported on this resource: referrals cannot be deleted or replaced as a collection.`,
      'referral',
    );
  };
  app.delete(item, notAllowed('GET, PATCH, PUT'));
  app.delete(collection, notAllowed('GET, POST'));
  app.put(collection, notAllowed('GET, POST'));
  app.patch(collection, notAllowed('GET, POST'));
}
