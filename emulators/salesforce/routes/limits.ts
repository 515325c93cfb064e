/** `GET /limits` and the version resources. */
import type { ApiRoute } from '../router.ts';

export const LATEST_API_VERSION = '66.0';
const OLDEST_LISTED_VERSION = 31;

/** Three releases a year; v66.0 is Spring '26 (reference/crm.md §B.2). */
function releaseLabel(major: number): string {
  const age = 66 - major;
  const season = ['Spring', 'Winter', 'Summer'][((age % 3) + 3) % 3] ?? 'Spring';
  const year = (season === 'Summer' ? 25 : 26) - Math.floor(age / 3);
  return `${season} '${String(year).padStart(2, '0')}`;
}

export function listVersions(): { label: string; url: string; version: string }[] {
  const latest = Number.parseInt(LATEST_API_VERSION, 10);
  const out = [];
  for (let major = OLDEST_LISTED_VERSION; major <= latest; major++) {
    out.push({ label: releaseLabel(major), url: `/services/data/v${major}.0`, version: `${major}.0` });
  }
  return out;
}

export const limitRoutes: ApiRoute[] = [
  {
    method: 'GET',
    pattern: '/limits',
    handle: (request) => {
      const { org } = request;
      const max = org.dailyApiLimit;
      return {
        status: 200,
        body: {
          DailyApiRequests: { Max: max, Remaining: Math.max(0, max - org.apiUsed) },
          DailyAsyncApexExecutions: { Max: 250000, Remaining: 250000 },
          DailyBulkApiBatches: { Max: 15000, Remaining: 15000 },
          DataStorageMB: { Max: 1024, Remaining: 1024 },
          ConcurrentPerOrgLongTxn: { Max: 25, Remaining: 25 },
        },
      };
    },
  },
  {
    method: 'GET',
    pattern: '/',
    handle: (request) => {
      const base = `/services/data/v${request.apiVersion}`;
      const names = ['sobjects', 'query', 'queryAll', 'composite', 'limits'];
      return { status: 200, body: Object.fromEntries(names.map((n) => [n, `${base}/${n}`])) };
    },
  },
];
