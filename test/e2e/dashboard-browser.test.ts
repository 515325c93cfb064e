// The dashboard as a new user meets it, in a real browser (Debian's chromium driven by playwright-core, never a
// downloaded browser): open the URL `npm start` prints, find the ✖ record, read why, fix the data through the
// emulator's control API, click Resubmit, see ✔. Every response of the session is searched for the demo's
// secrets, /metrics moves with what happened, and a screenshot is left in test-output/ for humans.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LongRunning, startCli } from '../helpers/cli.ts';
import { until } from '../helpers/until.ts';
import { metricSum, readMetrics } from './runtime-support.ts';

const CHROMIUM = process.env['COSELL_CHROMIUM'] ?? '/usr/bin/chromium';
const OUTPUT = join(import.meta.dirname, '..', '..', 'test-output');

const CASES = [
  {
    crm: 'salesforce',
    args: ['demo'],
    fix: (control: string, accountId: string) =>
      patch(`${control}/ui/Account/${accountId}`, { BillingCountry: 'United States' }),
  },
  {
    crm: 'dynamics',
    args: ['demo', '--crm', 'dynamics'],
    fix: (control: string, accountId: string) =>
      patch(`${control}/ui/accounts/${accountId}`, { address1_country: 'US' }),
  },
] as const;

async function patch(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`PATCH ${url}: ${response.status} ${await response.text()}`);
}

/** Waits until the locator's first match shows `text` (the page may reload meanwhile). */
async function sees(locator: Locator, text: string | RegExp, timeoutMs = 10_000): Promise<void> {
  await until(
    async () => {
      const shown = await locator.first().textContent({ timeout: 1_000 });
      return shown !== null && (typeof text === 'string' ? shown.includes(text) : text.test(shown));
    },
    timeoutMs,
    `the page to show ${String(text)} (${locator})`,
  );
}

let browser: Browser;
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium) or set COSELL_CHROMIUM.`,
    );
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  await mkdir(OUTPUT, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
});

describe.each(CASES)('the dashboard of a running demo on $crm (Chromium)', (demoCase) => {
  let demo: LongRunning;
  let page: Page;
  const bodies: string[] = [];

  beforeAll(async () => {
    demo = await startCli([...demoCase.args], (lines) => lines.some((l) => l.startsWith('Ctrl-C stops')), {
      timeoutMs: 60_000,
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('response', (response) => {
      void response
        .text()
        .then((text) => bodies.push(text))
        .catch(() => {});
    });
  }, 70_000);
  afterAll(async () => {
    await page?.close();
    await demo?.stop('SIGINT');
  });

  it('R19 R20 R25 R12 the printed URL opens the dashboard; the ✖ record says why; after the fix, Resubmit turns it ✔', async () => {
    const guide = demo.lines.slice(2).join('\n');
    const pc = JSON.parse(demo.lines[0]!) as { control: string; password: string };
    const crm = JSON.parse(demo.lines[1]!) as { control: string; clientSecret: string };
    // The dashboard is the first thing to try, before any emulator or API address.
    const opening = /▶ Open the dashboard: (http:\/\/\S+)/.exec(guide);
    expect(opening, guide).not.toBeNull();
    expect(guide.indexOf('Open the dashboard')).toBeLessThan(guide.indexOf('Partner Center emulator'));
    const dashboard = opening![1]!;
    const service = dashboard.replace(/\/$/, '');
    const accountId = /account Northwind Traders \(([^)]+)\) has no country/.exec(guide)?.[1];
    expect(accountId, guide).toBeDefined();
    const before = metricSum(await readMetrics(service), 'cosell_sync_duration_seconds_count');

    await page.goto(dashboard);
    await sees(page.getByRole('heading', { level: 1 }), 'Overview');
    await page.getByRole('link', { name: /1\s*failing/ }).waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Failures' }).click();
    const group = page.getByRole('heading', { level: 2, name: /country code is missing/ });
    await group.waitFor();
    await page.getByRole('link', { name: 'Northwind Data Estate' }).click();

    await sees(page.getByRole('heading', { level: 1 }), '✖ failing');
    await sees(
      page.getByRole('alert'),
      "Customer account country code is missing: set a two-letter ISO 3166 code, e.g. US, on account 'Northwind Traders'",
    );
    await sees(page.locator('ol.audit'), '✖ Customer account country code is missing');

    await demoCase.fix(crm.control, accountId!);
    await page.getByRole('button', { name: 'Resubmit' }).click();
    // The page refreshes itself while the record's sync is queued; ✔ is what a user waits to see.
    await sees(page.getByRole('heading', { level: 1 }), '✔ synced', 30_000);
    expect(await page.getByRole('alert').count()).toBe(0);
    // The referral now exists: the record names it and links to it.
    await page.getByRole('link', { name: 'open in Partner Center' }).waitFor();
    await page.screenshot({ path: join(OUTPUT, `dashboard-record-${demoCase.crm}.png`), fullPage: true });

    // Keyboard only: search the records for the customer and open the list filtered to it.
    await page.goto(`${service}/records`);
    await page.getByRole('searchbox', { name: 'Search' }).focus();
    await page.keyboard.type('northwind');
    await Promise.all([page.waitForURL(/\/records\?q=northwind/), page.keyboard.press('Enter')]);
    await sees(page.locator('tbody tr'), '✔ synced');
    expect(await page.locator('tbody tr').count()).toBe(1);
    expect(await page.locator('tbody tr').textContent()).toContain('Northwind Data Estate');
    await page.goto(dashboard);
    await page.getByRole('link', { name: /0\s*failing/ }).waitFor();
    await page.screenshot({ path: join(OUTPUT, `dashboard-overview-${demoCase.crm}.png`), fullPage: true });
    const overview = (await (await fetch(`${service}/api/overview`)).json()) as {
      webhook: { state: string };
      lastEventAt: { partnerCenter: string | null; crm: string | null };
      counts: { linked: number; failing: number };
      connections: { label: string; healthy: boolean }[];
    };
    expect(overview.webhook.state).toBe('ours');
    expect(overview.lastEventAt.partnerCenter).not.toBeNull();
    expect(overview.lastEventAt.crm).not.toBeNull();
    expect(overview.counts).toMatchObject({ linked: 3, failing: 0 });
    expect(overview.connections.every((c) => c.healthy)).toBe(true);
    await page.goto(`${service}/settings`);
    await page.getByRole('heading', { name: 'Field mapping' }).waitFor();

    const after = await readMetrics(service);
    expect(metricSum(after, 'cosell_sync_duration_seconds_count')).toBeGreaterThan(before);
    expect(metricSum(after, 'cosell_api_calls_total', { status: 'ok' })).toBeGreaterThan(0);

    // No secret of the demo in anything the browser received.
    expect(bodies.length).toBeGreaterThan(5);
    for (const body of bodies) {
      expect(body).not.toContain(crm.clientSecret);
      expect(body).not.toContain(pc.password);
    }
  }, 90_000);
});
