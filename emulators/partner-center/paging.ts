// `GET /referrals` query handling: $filter, $orderby, $top, $skip, $select and the opaque `$skiptoken`.
//
// The skiptoken is a keyset cursor (the last item's sort values + id), not an offset, so a referral created
// or updated while a client pages does not shift the pages under it: nothing is skipped; an item whose sort
// key moved past the cursor may be seen twice, which at-least-once clients handle anyway.

import { z } from 'zod';
import { compileFilter, compileOrderBy, ODataSyntaxError } from '../shared/odata.ts';
import { PartnerCenterError } from './http.ts';
import type { StoredReferral } from './store.ts';

export interface ListQuery {
  filter?: string;
  orderby?: string;
  /** Items still owed under `$top` (undefined = all). */
  top?: number;
  select?: string;
  skip?: number;
  after?: { id: string; createdDateTime: unknown; updatedDateTime: unknown };
}

export interface ListPage {
  items: StoredReferral[];
  /** The query to continue with, when more items remain. */
  next?: ListQuery;
}

const DEFAULT_ORDER = 'createdDateTime asc';

export function encodeSkipToken(query: ListQuery): string {
  return Buffer.from(JSON.stringify(query)).toString('base64url');
}

const skipTokenSchema = z.object({
  filter: z.string().optional(),
  orderby: z.string().optional(),
  top: z.number().int().min(0).optional(),
  select: z.string().optional(),
  skip: z.number().int().min(0).optional(),
  after: z.object({ id: z.string(), createdDateTime: z.unknown(), updatedDateTime: z.unknown() }).optional(),
});

export function decodeSkipToken(token: string): ListQuery {
  try {
    const parsed = skipTokenSchema.safeParse(JSON.parse(Buffer.from(token, 'base64url').toString('utf8')));
    if (parsed.success) return parsed.data as ListQuery;
  } catch {
    // fall through to the refusal
  }
  throw new PartnerCenterError(
    400,
    'invalidRequest',
    'The $skiptoken is not valid: follow @odata.nextLink exactly as returned.',
    '$skiptoken',
  );
}

function nonNegativeInteger(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value.trim())) {
    throw new PartnerCenterError(
      400,
      'invalidRequest',
      `${name} must be a non-negative integer, got '${value}'.`,
      name,
    );
  }
  return Number(value);
}

/** The list query of a request: the skiptoken's when it has one, else the OData options. */
export function listQueryOf(params: Record<string, string | undefined>): ListQuery {
  if (params.$skiptoken) return decodeSkipToken(params.$skiptoken);
  const query: ListQuery = {};
  if (params.$filter?.trim()) query.filter = params.$filter;
  if (params.$orderby?.trim()) query.orderby = params.$orderby;
  if (params.$select?.trim()) query.select = params.$select;
  const top = nonNegativeInteger(params.$top, '$top');
  if (top !== undefined) query.top = top;
  const skip = nonNegativeInteger(params.$skip, '$skip');
  if (skip) query.skip = skip;
  return query;
}

function compile<T>(make: () => T, option: string): T {
  try {
    return make();
  } catch (error) {
    if (error instanceof ODataSyntaxError) {
      throw new PartnerCenterError(400, 'invalidRequest', `Invalid ${option}: ${error.message}`, option);
    }
    throw error;
  }
}

/** What the list needs from the store: its referrals, and which changed since a version. */
export interface ReferralSource {
  readonly version: number;
  all(): StoredReferral[];
  get(id: string): StoredReferral | undefined;
  /** Ids written after `version`; undefined when the store no longer knows (rebuild). */
  changedSince(version: number): string[] | undefined;
}

interface SortedView {
  version: number;
  sorted: StoredReferral[];
}

/** Index of the first element that sorts after `probe`. */
function firstAfter(
  sorted: StoredReferral[],
  probe: unknown,
  compare: (a: unknown, b: unknown) => number,
): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compare(sorted[mid], probe) <= 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

const MAX_VIEWS = 16;

/**
 * Filtered, sorted views of the store, kept between pages. Sorting 100k referrals with the OData
 * comparator takes over a second, so re-sorting on every page would make a 100k backfill take half an
 * hour; a view is patched with the referrals written since, and rebuilt only when that is cheaper.
 */
export class ListViews {
  private views = new Map<string, SortedView>();

  clear(): void {
    this.views.clear();
  }

  sorted(
    source: ReferralSource,
    key: string,
    matches: (entity: unknown) => boolean,
    compare: (a: unknown, b: unknown) => number,
  ): StoredReferral[] {
    const view = this.views.get(key);
    let sorted: StoredReferral[] | undefined;
    if (view && view.version === source.version) {
      sorted = view.sorted;
    } else if (view) {
      const changed = source.changedSince(view.version);
      if (changed && changed.length <= Math.max(100, view.sorted.length / 8)) {
        const ids = new Set(changed);
        sorted = view.sorted.filter((referral) => !ids.has(String(referral.id)));
        for (const id of ids) {
          const referral = source.get(id);
          if (referral && matches(referral))
            sorted.splice(firstAfter(sorted, referral, compare), 0, referral);
        }
      }
    }
    sorted ??= source.all().filter(matches).sort(compare);
    this.views.delete(key);
    this.views.set(key, { version: source.version, sorted });
    if (this.views.size > MAX_VIEWS) this.views.delete(this.views.keys().next().value!);
    return sorted;
  }
}

export function listPage(
  source: ReferralSource,
  views: ListViews,
  query: ListQuery,
  pageSize: number,
): ListPage {
  const matches = query.filter ? compile(() => compileFilter(query.filter!), '$filter') : () => true;
  const orderby = query.orderby ?? DEFAULT_ORDER;
  const compare = compile(() => compileOrderBy(orderby), '$orderby');
  const sorted = views.sorted(source, JSON.stringify([query.filter ?? '', orderby]), matches, compare);
  let start = query.skip ?? 0;
  const after = query.after;
  if (after) {
    // The cursor holds the sort values the last item had when it was served: a referral updated since
    // then does not move the cursor.
    const cursor = { ...(source.get(after.id) ?? {}), ...after };
    start = firstAfter(sorted, cursor, compare);
  }
  const limit = Math.min(pageSize, query.top ?? Number.POSITIVE_INFINITY);
  const items = sorted.slice(start, start + limit);
  const remainingTop = query.top === undefined ? undefined : query.top - items.length;
  const last = items[items.length - 1];
  if (!last || start + items.length >= sorted.length || remainingTop === 0) return { items };
  const next: ListQuery = {
    ...query,
    after: {
      id: String(last.id),
      createdDateTime: last.createdDateTime,
      updatedDateTime: last.updatedDateTime,
    },
  };
  delete next.skip;
  if (remainingTop !== undefined) next.top = remainingTop;
  return { items, next };
}

/** `$select=id,status,customerProfile/name`: top-level members only (a nested path keeps its whole member). */
export function selectFields(
  referral: Record<string, unknown>,
  select: string | undefined,
): Record<string, unknown> {
  if (!select) return referral;
  const wanted = new Set(select.split(',').map((field) => field.trim().split('/')[0]!));
  return Object.fromEntries(Object.entries(referral).filter(([key]) => wanted.has(key)));
}
