// Who may see the dashboard and call the admin API (DESIGN.md §2 server/). Bound to a loopback address, the
// machine's own users may; on any other address every request needs the admin token (COSELL_ADMIN_TOKEN):
// `Authorization: Bearer …` for scripts, or the session cookie the sign-in form sets for browsers. The tenant a
// request may see is decided here and only here (`tenantOf`): in a deployment serving several partner tenants
// each has its own token (COSELL_ADMIN_TOKEN__<TENANT>), and the token a request carries is the tenant it sees.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const SESSION_COOKIE = 'cosell_admin';

export interface TenantAccess {
  tenantId: string;
  /** Null: no token is configured (only allowed for a deployment of one tenant on a loopback address). */
  token: string | null;
}

export interface AdminAccess {
  /** The tenants this deployment serves, each with its admin token. */
  tenants: readonly TenantAccess[];
}

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/** The refusal `start` gives before anything runs when the dashboard would be open to the network. */
export function adminTokenProblem(host: string, token: string | undefined): string | null {
  if (isLoopback(host)) return null;
  if (!token) {
    return `server.host is ${host}, so the dashboard and the admin API are reachable from other machines: set COSELL_ADMIN_TOKEN to a long random value (openssl rand -base64 32), or bind server.host to 127.0.0.1 behind a reverse proxy`;
  }
  if (token.length < 24)
    return 'COSELL_ADMIN_TOKEN is shorter than 24 characters: use openssl rand -base64 32';
  return null;
}

/** What the session cookie holds: derived from the token, so the token itself never sits in a browser. */
export function sessionValue(token: string): string {
  return createHash('sha256').update(`cosell-admin-session:${token}`).digest('base64url');
}

function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function hostnameOf(host: string | undefined): string {
  if (!host) return '';
  try {
    return new URL(`http://${host}`).hostname;
  } catch {
    return '';
  }
}

export function cookieOf(request: FastifyRequest, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

/** True when nobody configured a token: one tenant, bound to loopback (start refuses anything else). */
export function withoutToken(access: AdminAccess): boolean {
  return access.tenants.length === 1 && access.tenants[0]!.token === null;
}

/**
 * The one tenant check: the tenant whose admin token the request carries (bearer header or session cookie), or
 * null when it carries none that is valid. Without a token the service is bound to loopback, and only a request
 * that names a loopback host gets in: a web page that rebinds its own domain to 127.0.0.1 (DNS rebinding) sends
 * its own name as Host and is refused.
 */
export function tenantOf(request: FastifyRequest, access: AdminAccess): string | null {
  if (withoutToken(access)) {
    return isLoopback(hostnameOf(request.headers.host)) ? access.tenants[0]!.tenantId : null;
  }
  const header = request.headers.authorization;
  const cookie = cookieOf(request, SESSION_COOKIE);
  for (const tenant of access.tenants) {
    if (tenant.token === null) continue;
    if (header?.startsWith('Bearer ')) {
      if (sameSecret(header.slice(7).trim(), tenant.token)) return tenant.tenantId;
    } else if (cookie !== undefined && sameSecret(cookie, sessionValue(tenant.token))) {
      return tenant.tenantId;
    }
  }
  return null;
}

export function isAuthorized(request: FastifyRequest, access: AdminAccess): boolean {
  return tenantOf(request, access) !== null;
}

/**
 * A write from another site (a page the admin has open elsewhere posting to 127.0.0.1) is refused: browsers say
 * where a request comes from, and a form or fetch of ours comes from our own origin.
 */
export function isCrossSite(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return true;
  const origin = request.headers.origin;
  if (!origin) return false;
  try {
    return new URL(origin).host !== request.headers.host;
  } catch {
    return true;
  }
}

export function refuseUnauthorized(request: FastifyRequest, reply: FastifyReply, wantsHtml: boolean) {
  if (wantsHtml) {
    const next = encodeURIComponent(request.url);
    return reply.redirect(`/login?next=${next}`, 303);
  }
  return reply.code(401).send({
    error: {
      code: 'unauthorized',
      message: 'This admin API needs the admin token.',
      fix: 'Send Authorization: Bearer $COSELL_ADMIN_TOKEN (the value the service was started with).',
    },
  });
}
