// Referrals API client (reference §2, R3): list (streaming over @odata.nextLink), get, create, JSON Patch
// update with If-Match, and the re-read-and-retry helper for 412.
import type { PatchOperation } from '../core/patchable.ts';
import { type Referral, referralPageSchema, referralSchema } from '../core/referral.ts';
import { REFERRALS_BASE_URL } from './constants.ts';
import { PartnerCenterError } from './errors.ts';
import { buildListQuery, eq, type ListQuery } from './filter.ts';
import { type PartnerCenterClientOptions, PartnerCenterHttp, type PartnerCenterResponse } from './http.ts';

export type ReferralsClientOptions = PartnerCenterClientOptions;

export interface ReferralPage {
  referrals: Referral[];
  /** Absolute URL of the next page, or null on the last page. */
  nextLink: string | null;
}

export interface ReferralWithETag {
  referral: Referral;
  eTag: string | undefined;
}

export interface UpdateOptions {
  /** Sends `If-Match`: Partner Center answers 412 when the referral changed since this eTag. */
  ifMatch?: string;
  /** Sends `Prefer: return=representation` so the updated referral comes back (200 instead of 204). */
  returnRepresentation?: boolean;
}

export type ApplyChangeResult =
  | { changed: false; referral: Referral; eTag: string | undefined; attempts: number }
  | {
      changed: true;
      referral: Referral;
      eTag: string | undefined;
      attempts: number;
      operations: PatchOperation[];
    };

export class ReferralsClient {
  private readonly http: PartnerCenterHttp;

  constructor(options: ReferralsClientOptions) {
    this.http = new PartnerCenterHttp({
      ...options,
      api: 'referrals',
      baseUrl: options.baseUrl ?? REFERRALS_BASE_URL,
    });
  }

  /** Pages of GET /referrals, one request per page; the next page is fetched only when asked for. */
  async *listPages(query: ListQuery = {}): AsyncGenerator<ReferralPage, void, undefined> {
    let next: { path: string; query?: string } | null = { path: '/referrals', query: buildListQuery(query) };
    while (next) {
      const response = await this.http.request({ method: 'GET', ...next });
      const page = parseOrThrow(referralPageSchema, response, 'GET', '/referrals');
      const nextLink = page['@odata.nextLink'] ?? null;
      yield { referrals: page.value as Referral[], nextLink };
      // The nextLink carries an opaque $skiptoken and the original query: follow it verbatim.
      next = nextLink ? { path: nextLink } : null;
    }
  }

  /** Every referral matching the query, streamed: memory holds one page at a time. */
  async *list(query: ListQuery = {}): AsyncGenerator<Referral, void, undefined> {
    for await (const page of this.listPages(query)) yield* page.referrals;
  }

  async get(id: string): Promise<ReferralWithETag> {
    const path = `/referrals/${encodeURIComponent(id)}`;
    const response = await this.http.request({ method: 'GET', path });
    const referral = parseOrThrow(referralSchema, response, 'GET', path);
    return { referral, eTag: referral.eTag ?? response.headers.get('etag') ?? undefined };
  }

  /** POST /referrals. Not replayed on an unknown outcome (a dropped connection after sending): a duplicate
   *  referral cannot be deleted, so the caller checks `findRecentOutgoingByExternalReferenceId` first. */
  async create(referral: Record<string, unknown>): Promise<Referral> {
    let response: PartnerCenterResponse;
    try {
      response = await this.http.request({
        method: 'POST',
        path: '/referrals',
        body: referral,
        replayable: false,
      });
    } catch (error) {
      const unknownOutcome =
        error instanceof PartnerCenterError &&
        ((error.status === 0 && error.code !== 'connectionRefused') || error.status === 504);
      if (!unknownOutcome) throw error;
      throw new PartnerCenterError({
        api: 'referrals',
        method: 'POST',
        path: error.path,
        status: error.status,
        code: 'outcomeUnknown',
        providerMessage: error.providerMessage,
        requestId: error.requestId,
        correlationId: error.correlationId,
        attempts: error.attempts,
        fix: 'The connection broke after the referral was sent, so it may exist: look it up by externalReferenceId (findRecentOutgoingByExternalReferenceId) before creating it again.',
        cause: error,
      });
    }
    return parseOrThrow(referralSchema, response, 'POST', '/referrals');
  }

  /** PATCH with a JSON Patch document. Returns the updated referral when Partner Center sent it (200), else null (204). */
  async update(
    id: string,
    operations: PatchOperation[],
    options: UpdateOptions = {},
  ): Promise<Referral | null> {
    const path = `/referrals/${encodeURIComponent(id)}`;
    const headers: Record<string, string> = {};
    if (options.ifMatch) headers['If-Match'] = options.ifMatch;
    if (options.returnRepresentation) headers['Prefer'] = 'return=representation';
    const response = await this.http.request({ method: 'PATCH', path, body: operations, headers });
    if (response.status === 204 || response.body === undefined) return null;
    return parseOrThrow(referralSchema, response, 'PATCH', path);
  }

  /**
   * Reads the referral, asks `compute` for the operations against that state, and PATCHes with If-Match.
   * On 412 (someone changed it in between) it reads again and recomputes, up to `maxAttempts` times.
   * `compute` returning null or [] means nothing to change: no PATCH is sent.
   */
  async applyChange(
    id: string,
    compute: (current: Referral) => PatchOperation[] | null | Promise<PatchOperation[] | null>,
    options: { maxAttempts?: number } = {},
  ): Promise<ApplyChangeResult> {
    const maxAttempts = options.maxAttempts ?? 3;
    for (let attempt = 1; ; attempt++) {
      const { referral, eTag } = await this.get(id);
      const operations = await compute(referral);
      if (!operations || operations.length === 0)
        return { changed: false, referral, eTag, attempts: attempt };
      try {
        const updated = await this.update(id, operations, {
          ...(eTag ? { ifMatch: eTag } : {}),
          returnRepresentation: true,
        });
        const after = updated ?? (await this.get(id)).referral;
        return {
          changed: true,
          referral: after,
          eTag: after.eTag ?? undefined,
          attempts: attempt,
          operations,
        };
      } catch (error) {
        if (!(error instanceof PartnerCenterError) || error.status !== 412) throw error;
        if (attempt >= maxAttempts) {
          error.attempts = attempt;
          throw error;
        }
      }
    }
  }

  /**
   * The newest Outgoing referral with this externalReferenceId created at or after `since`, or null.
   * Used after an unknown create outcome to adopt the referral instead of creating a duplicate
   * (DESIGN.md §3). Pages newest-first and stops at the first one older than `since`.
   */
  async findRecentOutgoingByExternalReferenceId(
    externalReferenceId: string,
    since: Date,
  ): Promise<Referral | null> {
    const pages = this.listPages({
      filter: eq('direction', 'Outgoing'),
      orderBy: [{ field: 'createdDateTime', direction: 'desc' }],
    });
    for await (const page of pages) {
      for (const referral of page.referrals) {
        const created = referral.createdDateTime ? Date.parse(referral.createdDateTime) : Number.NaN;
        if (created < since.getTime()) return null;
        if (referral.externalReferenceId === externalReferenceId) return referral;
      }
    }
    return null;
  }

  /** All referrals of one engagement (ours and Microsoft's side of a co-sell), reference §3 "Related referrals". */
  async listRelated(engagementId: string, options: { excludeId?: string } = {}): Promise<Referral[]> {
    const related: Referral[] = [];
    for await (const referral of this.list({ filter: eq('engagementId', engagementId) })) {
      if (referral.id !== options.excludeId) related.push(referral);
    }
    return related;
  }
}

interface SafeParser<T> {
  safeParse(input: unknown):
    | { success: true; data: T }
    | {
        success: false;
        error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> };
      };
}

function parseOrThrow<T>(
  schema: SafeParser<T>,
  response: PartnerCenterResponse,
  method: string,
  path: string,
): T {
  const result = schema.safeParse(response.body);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`,
  );
  const first = result.error.issues[0];
  return throwResponseError(
    method,
    path,
    response,
    problems,
    first ? first.path.map(String).join('.') : undefined,
  );
}

function throwResponseError(
  method: string,
  path: string,
  response: PartnerCenterResponse,
  problems: string[],
  target: string | undefined,
): never {
  throw new PartnerCenterError({
    api: 'referrals',
    method,
    path,
    status: response.status,
    code: 'unexpectedResponse',
    providerMessage: `the response does not match the Referral schema: ${problems.slice(0, 5).join('; ')}`,
    target: target || undefined,
    requestId: response.requestId,
    correlationId: response.correlationId,
    attempts: response.attempts,
    fix: 'Partner Center answered with a shape cosell does not understand: report it with the request id; the referral is left unchanged.',
  });
}
