// The operator surface on the service's HTTP server: the dashboard's pages, the admin JSON API and its OpenAPI
// document, behind one guard (admin/auth.ts). Pages and API render the same answers (admin/data.ts).
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { registerApi } from '../admin/api.ts';
import {
  type AdminAccess,
  isAuthorized,
  isCrossSite,
  refuseUnauthorized,
  SESSION_COOKIE,
  sessionValue,
  tenantOf,
  withoutToken,
} from '../admin/auth.ts';
import type { AdminData } from '../admin/data.ts';
import { openApiDocument } from '../admin/openapi.ts';
import { recordsQuerySchema } from '../admin/schemas.ts';
import type { Html } from './html.ts';
import {
  failuresPage,
  layout,
  loginPage,
  overviewPage,
  recordPage,
  recordsPage,
  settingsPage,
} from './pages.ts';
import { STYLESHEET } from './style.ts';

export interface AdminOptions {
  access: AdminAccess;
  /** The answers of one tenant (the tenant auth.ts decided for the request). */
  dataFor: (tenantId: string) => AdminData;
  version: string;
}

const OPEN_PATHS = new Set(['/login', '/assets/cosell.css']);
type Form = Record<string, string | string[]>;

export function adminRoutes(options: AdminOptions): FastifyPluginAsync {
  return async (scope) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 64 * 1024 },
      (_request, body, done) => {
        const form: Form = {};
        for (const [key, value] of new URLSearchParams(String(body))) {
          const seen = form[key];
          form[key] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
        }
        done(null, form);
      },
    );
    scope.addHook('onRequest', async (request, reply) => {
      const path = request.url.split('?')[0]!;
      if (request.method !== 'GET' && request.method !== 'HEAD' && isCrossSite(request)) {
        return reply.code(403).send({
          error: { code: 'cross-site', message: 'Writes come only from the dashboard itself.' },
        });
      }
      if (OPEN_PATHS.has(path) || isAuthorized(request, options.access)) return;
      if (withoutToken(options.access)) {
        return reply.code(403).send({
          error: {
            code: 'not-loopback',
            message: `Without COSELL_ADMIN_TOKEN the dashboard answers only requests addressed to this machine (127.0.0.1, localhost), not to '${request.headers.host ?? ''}'.`,
            fix: 'Open it at http://127.0.0.1:<port>/, or set COSELL_ADMIN_TOKEN to reach it through another name.',
          },
        });
      }
      return refuseUnauthorized(request, reply, !path.startsWith('/api/'));
    });
    // The onRequest hook let only requests with a tenant through (the open paths read no tenant's data).
    const tenant = (request: FastifyRequest) => tenantOf(request, options.access) ?? '';
    const data = (request: FastifyRequest) => options.dataFor(tenant(request));
    const page = (
      request: FastifyRequest,
      reply: FastifyReply,
      title: string,
      active: Parameters<typeof layout>[0]['page'],
      body: Html,
      refreshSeconds?: number,
    ) =>
      reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(
          layout({
            title,
            page: active,
            tenantId: tenant(request),
            body,
            ...(refreshSeconds ? { refreshSeconds } : {}),
          }),
        );

    scope.get('/assets/cosell.css', async (_request, reply) =>
      reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=300').send(STYLESHEET),
    );
    scope.get('/api/openapi.json', async () => openApiDocument(options.version));
    registerApi(scope, data);

    scope.get('/', async (request, reply) =>
      page(request, reply, 'Overview', 'overview', overviewPage(await data(request).overview())),
    );
    scope.get('/records', async (request, reply) => {
      const raw = Object.fromEntries(
        Object.entries(request.query as Record<string, string>).filter(([, v]) => v !== ''),
      );
      const parsed = recordsQuerySchema.safeParse(raw);
      const query = parsed.success ? parsed.data : recordsQuerySchema.parse({});
      return page(
        request,
        reply,
        'Records',
        'records',
        recordsPage(await data(request).records(query), query),
      );
    });
    scope.get<{ Params: { id: string }; Querystring: { queued?: string } }>(
      '/records/:id',
      async (request, reply) => {
        const id = Number(request.params.id);
        const detail = Number.isInteger(id) && id > 0 ? await data(request).record(id) : null;
        if (!detail) {
          return reply
            .code(404)
            .type('text/html; charset=utf-8')
            .send(
              layout({
                title: 'Not found',
                page: 'records',
                tenantId: tenant(request),
                body: recordsPage({ records: [], nextCursor: null }, recordsQuerySchema.parse({})),
              }),
            );
        }
        const notice = !request.query.queued
          ? undefined
          : detail.queued
            ? 'Queued again: cosell syncs it within seconds.'
            : 'Synced again after your resubmit: the latest run is at the top of Runs.';
        return page(
          request,
          reply,
          detail.record.name ?? 'Record',
          'records',
          recordPage(detail, notice),
          detail.queued ? 2 : undefined,
        );
      },
    );
    scope.post<{ Params: { id: string } }>('/records/:id/resubmit', async (request, reply) => {
      const id = Number(request.params.id);
      if (!Number.isInteger(id) || id < 1)
        return reply.code(400).send({ error: { code: 'bad-request', message: 'No such record.' } });
      await data(request).resubmit({ linkIds: [id] });
      return reply.redirect(`/records/${id}?queued=1`, 303);
    });
    scope.get<{ Querystring: { queued?: string } }>('/failures', async (request, reply) => {
      const queued = request.query.queued;
      const notice =
        queued !== undefined
          ? `Queued ${queued} record${queued === '1' ? '' : 's'} again: refresh in a few seconds to see the outcome.`
          : undefined;
      return page(
        request,
        reply,
        'Failures',
        'failures',
        failuresPage(await data(request).failures(), notice),
      );
    });
    scope.post('/failures/resubmit', async (request, reply) => {
      const form = (request.body ?? {}) as Form;
      const ids = ([] as string[])
        .concat(form['linkId'] ?? [])
        .map(Number)
        .filter((n) => Number.isInteger(n) && n > 0);
      const all = form['scope'] === 'all';
      const { queued } =
        all || ids.length === 0
          ? all
            ? await data(request).resubmit({ allFailed: true })
            : { queued: 0 }
          : await data(request).resubmit({ linkIds: ids });
      return reply.redirect(`/failures?queued=${queued}`, 303);
    });
    scope.get('/settings', async (request, reply) =>
      page(request, reply, 'Settings', 'settings', settingsPage(data(request).settings())),
    );

    scope.get<{ Querystring: { next?: string; failed?: string } }>('/login', async (request, reply) =>
      page(
        request,
        reply,
        'Sign in',
        null,
        loginPage(safeNext(request.query.next), request.query.failed === '1'),
      ),
    );
    scope.post('/login', async (request, reply) => {
      const form = (request.body ?? {}) as Form;
      const next = safeNext(typeof form['next'] === 'string' ? form['next'] : undefined);
      const token = typeof form['token'] === 'string' ? form['token'] : '';
      if (withoutToken(options.access)) return reply.redirect(next, 303);
      const probe = { headers: { authorization: `Bearer ${token}` } } as FastifyRequest;
      if (!isAuthorized(probe, options.access))
        return reply.redirect(`/login?failed=1&next=${encodeURIComponent(next)}`, 303);
      // The cookie is derived from the token given: it opens that token's tenant, and only it.
      const expected = token.trim();
      const secure = request.protocol === 'https' ? '; Secure' : '';
      return reply
        .header(
          'set-cookie',
          `${SESSION_COOKIE}=${sessionValue(expected)}; HttpOnly; SameSite=Strict; Path=/${secure}`,
        )
        .redirect(next, 303);
    });
  };
}

/** Only a path of this site: a sign-in never sends the browser elsewhere. */
function safeNext(next: string | undefined): string {
  return next && /^\/(?!\/)[^\s\\]*$/.test(next) ? next : '/';
}
