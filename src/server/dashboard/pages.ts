// The dashboard's pages, rendered on the server from the same answers the admin JSON API gives (admin/data.ts).
// Every page works without JavaScript and with the keyboard: links, forms and buttons only.
import type {
  FailureGroup,
  Overview,
  RecordDetail,
  RecordJson,
  RecordsQuery,
  RunJson,
  SettingsJson,
} from '../admin/schemas.ts';
import { directions, recordStates } from '../admin/schemas.ts';
import { type Html, html } from './html.ts';

type Page = 'overview' | 'records' | 'failures' | 'settings';

const NAV: readonly [Page, string, string][] = [
  ['overview', 'Overview', '/'],
  ['records', 'Records', '/records'],
  ['failures', 'Failures', '/failures'],
  ['settings', 'Settings', '/settings'],
];

export function layout(input: {
  title: string;
  page: Page | null;
  tenantId: string;
  body: Html;
  /** Reload the page every N seconds (a record waiting for its sync). */
  refreshSeconds?: number;
}): string {
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${input.refreshSeconds ? html`<meta http-equiv="refresh" content="${input.refreshSeconds}">` : ''}
<title>${input.title} · cosell</title><link rel="stylesheet" href="/assets/cosell.css"></head>
<body><a class="skip" href="#main">Skip to content</a>
<header><strong>cosell</strong><nav aria-label="Main">${NAV.map(
    ([page, label, href]) =>
      html`<a href="${href}"${page === input.page ? html` aria-current="page"` : ''}>${label}</a>`,
  )}</nav>${input.tenantId ? html`<span class="tenant">tenant ${input.tenantId}</span>` : ''}</header>
<main id="main">${input.body}</main></body></html>`}`;
}

const STATE_LABEL: Record<RecordJson['state'], string> = {
  ok: '✔ synced',
  failing: '✖ failing',
  dead: '✖ dead-lettered',
  unshared: 'unshared',
  orphaned: 'orphaned (CRM record gone)',
};

function stateCell(state: RecordJson['state']): Html {
  const cls = state === 'ok' ? 'ok' : state === 'failing' || state === 'dead' ? 'bad' : 'mute';
  return html`<span class="mark ${cls}">${STATE_LABEL[state]}</span>`;
}

const when = (iso: string | null) => (iso ? `${iso.slice(0, 19).replace('T', ' ')} UTC` : '—');
const ms = (n: number | null) => (n === null ? '—' : n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`);

function money(record: Pick<RecordJson, 'dealValue' | 'currency'>): string {
  if (!record.dealValue) return '—';
  const n = Number(record.dealValue);
  const text = Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: 2 })
    : record.dealValue;
  return `${text} ${record.currency ?? ''}`.trim();
}

/** Recent sync durations as a line: the eye sees a slow spell faster than it reads a table. */
export function sparkline(values: readonly number[], label: string): Html {
  if (values.length < 2) return html`<span class="mute">not enough syncs yet</span>`;
  const w = 220;
  const h = 36;
  const max = Math.max(...values, 1);
  const points = values
    .map(
      (v, i) => `${((i / (values.length - 1)) * w).toFixed(1)},${(h - 2 - (v / max) * (h - 4)).toFixed(1)}`,
    )
    .join(' ');
  return html`<svg class="spark" role="img" aria-label="${label}" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><polyline fill="none" stroke="#0b5cad" stroke-width="2" points="${points}"/></svg>`;
}

function budgetBar(used: number, limit: number | null): Html {
  if (limit === null) return html`<span class="mute">${used} calls today, no budget set</span>`;
  const pct = Math.min(100, Math.round((used / Math.max(limit, 1)) * 100));
  return html`<div class="bar" role="meter" aria-valuemin="0" aria-valuemax="${limit}" aria-valuenow="${used}" aria-label="API calls today"><span class="${pct >= 90 ? 'high' : ''}" style="width:${pct}%"></span></div>
<span class="mute">${used} of ${limit} calls today (${pct}%)</span>`;
}

export function overviewPage(o: Overview): Html {
  const pc = o.connections.find((c) => c.api === 'partner-center');
  const crmLabel = o.connections.find((c) => c.api === 'crm')?.label ?? 'CRM';
  const webhookOk = o.webhook.state === 'ours';
  return html`<h1>Overview</h1>
${o.dryRun ? html`<p class="notice">Dry run: cosell reads both sides and records what it would write, and writes nothing.</p>` : ''}
<section class="card" aria-labelledby="counts-h" style="margin-bottom:1rem"><h2 id="counts-h">Records</h2>
<div class="counts">
<a href="/records"><b>${o.counts.linked}</b>linked</a>
<a href="/records?state=failing" class="${o.counts.failing ? 'bad' : ''}"><b>${o.counts.failing}</b>failing</a>
<a href="/records?state=dead" class="${o.counts.dead ? 'bad' : ''}"><b>${o.counts.dead}</b>dead-lettered</a>
<a href="/records?state=unshared"><b>${o.counts.unshared}</b>unshared</a>
<span><b>${o.counts.queued}</b>queued now</span>
${o.paused.length ? html`<span class="warn"><b>${o.paused.length}</b>API paused</span>` : ''}
</div>
${o.counts.failing + o.counts.dead > 0 ? html`<p><a href="/failures">See why ${o.counts.failing + o.counts.dead} record${o.counts.failing + o.counts.dead === 1 ? '' : 's'} did not sync, and resubmit →</a></p>` : ''}
</section>
<div class="grid">
<section class="card" aria-labelledby="conn-h"><h2 id="conn-h">Connections</h2>
<table><tbody>${o.connections.map(
    (c) =>
      html`<tr><th scope="row">${c.label}</th><td>${
        c.healthy
          ? html`<span class="ok mark">✔ healthy</span>${c.lastOkAt ? html` <span class="mute">last call ${when(c.lastOkAt)}</span>` : ''}`
          : html`<span class="bad mark">✖ ${c.reason}</span>${c.fix ? html`<div class="fix">${c.fix}</div>` : ''}`
      }</td></tr>`,
  )}
<tr><th scope="row">Partner Center sign-in</th><td>${
    o.login.state === 'ok'
      ? html`<span class="ok mark">✔</span> ${o.login.message}`
      : html`<span class="bad mark">✖ ${o.login.message}</span><div class="fix">${o.login.fix}</div>`
  }</td></tr>
<tr><th scope="row">Webhook</th><td>${webhookOk ? html`<span class="ok mark">✔</span> ` : html`<span class="warn mark">!</span> `}${o.webhook.message}
<div class="mute ids">${o.webhook.url}${o.webhook.checkedAt ? ` · checked ${when(o.webhook.checkedAt)}` : ''}</div></td></tr>
<tr><th scope="row">Last event</th><td>Partner Center: ${when(o.lastEventAt.partnerCenter)}<br>${crmLabel}: ${when(o.lastEventAt.crm)}</td></tr>
</tbody></table></section>
<section class="card" aria-labelledby="lat-h"><h2 id="lat-h">Sync latency</h2>
<table><thead><tr><th>Direction</th><th>p50</th><th>p95</th><th>Recent syncs</th></tr></thead><tbody>${o.latency.map(
    (
      l,
    ) => html`<tr><td>${l.direction === 'toCrm' ? `Partner Center → ${crmLabel}` : `${crmLabel} → Partner Center`}</td>
<td class="num">${ms(l.p50Ms)}</td><td class="num">${ms(l.p95Ms)}</td><td>${sparkline(l.recentMs, `Duration of the last ${l.recentMs.length} syncs, ${l.direction}`)}</td></tr>`,
  )}</tbody></table><p class="mute">From the last syncs that changed something (${o.latency.reduce((n, l) => n + l.runs, 0)} runs).</p></section>
<section class="card" aria-labelledby="budget-h"><h2 id="budget-h">API calls today</h2>
${o.budgets.map(
  (b) =>
    html`<p><strong>${b.api === 'crm' ? crmLabel : 'Partner Center'}</strong></p>${budgetBar(b.usedToday, b.limit)}`,
)}
${o.paused.map((p) => html`<div class="error">${p.api} paused (${p.reason}) until ${when(p.until)}<div class="fix">${p.fix}</div></div>`)}
${pc && Object.keys(pc.calls).length ? '' : html`<p class="mute">No Partner Center call yet since start.</p>`}
</section>
</div>`;
}

export function recordsTable(
  records: readonly RecordJson[],
  options: { select?: boolean; errors?: boolean } = {},
): Html {
  if (records.length === 0) return html`<p class="mute">No records match.</p>`;
  return html`<table><thead><tr>${options.select ? html`<th><span class="skip">Select</span></th>` : ''}<th>Record</th><th>Customer</th><th>Deal value</th><th>Status</th><th>Sync</th><th>Last sync</th><th>Referral</th><th>CRM id</th></tr></thead><tbody>
${records.map(
  (r) => html`<tr>${
    options.select
      ? html`<td><input type="checkbox" name="linkId" value="${r.id}" id="pick-${r.id}" aria-label="Select ${r.name ?? `record ${r.id}`}"></td>`
      : ''
  }<td><a href="/records/${r.id}">${r.name ?? `(record ${r.id})`}</a></td><td>${r.customer ?? '—'}</td>
<td class="num">${money(r)}</td><td>${r.status ?? '—'}</td><td>${stateCell(r.state)}${
    r.error && options.errors !== false ? html`<div class="mute">${r.error.message}</div>` : ''
  }</td><td>${when(r.lastRunAt)}${r.lastDirection ? html`<div class="mute">${r.lastDirection}</div>` : ''}</td>
<td class="mute ids">${r.referralId ?? '—'}</td><td class="mute ids">${r.crmId ?? '—'}</td></tr>`,
)}</tbody></table>`;
}

export function recordsPage(
  page: { records: RecordJson[]; nextCursor: string | null },
  query: RecordsQuery,
): Html {
  const next = new URLSearchParams();
  if (query.q) next.set('q', query.q);
  if (query.state) next.set('state', query.state);
  if (query.direction) next.set('direction', query.direction);
  if (page.nextCursor) next.set('cursor', page.nextCursor);
  return html`<h1>Records</h1>
<form class="filters" method="get" action="/records" role="search">
<label>Search<input type="search" name="q" value="${query.q ?? ''}" placeholder="name, customer, referral or CRM id" size="34"></label>
<label>State<select name="state"><option value="">any</option>${recordStates.map(
    (s) => html`<option value="${s}"${query.state === s ? html` selected` : ''}>${STATE_LABEL[s]}</option>`,
  )}</select></label>
<label>Last direction<select name="direction"><option value="">any</option>${directions.map(
    (d) => html`<option value="${d}"${query.direction === d ? html` selected` : ''}>${d}</option>`,
  )}</select></label>
<button type="submit">Show</button> <a href="/records">Clear</a></form>
${recordsTable(page.records)}
<nav class="pager" aria-label="Pages">${query.cursor ? html`<a href="/records">« First page</a>` : ''}${
    page.nextCursor ? html`<a href="/records?${next.toString()}">Next page »</a>` : ''
  }</nav>`;
}

function show(value: unknown): string {
  if (value === null || value === undefined || value === '') return '—';
  if (Array.isArray(value)) return value.length ? value.map((v) => show(v)).join(', ') : '—';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Both sides say something about the field, and not the same thing. */
function differs(a: unknown, b: unknown): boolean {
  return show(a) !== '—' && show(b) !== '—' && show(a) !== show(b);
}

function runsTable(runs: readonly RunJson[]): Html {
  if (runs.length === 0) return html`<p class="mute">No runs yet.</p>`;
  return html`<table><thead><tr><th>#</th><th>When</th><th>Trigger</th><th>Outcome</th><th>Direction</th><th>Changed</th><th>Took</th></tr></thead><tbody>${runs.map(
    (r) => html`<tr><td>${r.id}</td><td class="when">${when(r.startedAt)}</td><td>${r.trigger}</td>
<td class="${r.outcome === 'failed' || r.outcome === 'dead' ? 'bad' : ''}">${r.outcome}${
      r.error
        ? html`<div>${r.error.message}</div>${r.error.fix ? html`<div class="fix">${r.error.fix}</div>` : ''}`
        : ''
    }</td><td>${r.direction}</td><td>${
      r.diff
        .filter((d) => show(d.before) !== '—' || show(d.after) !== '—')
        .map((d) => d.field)
        .join(', ') || '—'
    }</td><td class="num">${ms(r.durationMs)}</td></tr>`,
  )}</tbody></table>`;
}

export function recordPage(d: RecordDetail, notice?: string): Html {
  const r = d.record;
  const failing = r.state === 'failing' || r.state === 'dead';
  const fix = d.runs.find((run) => run.error)?.error?.fix ?? null;
  return html`<p><a href="/records">← Records</a></p>
<h1>${r.name ?? `Record ${r.id}`} ${stateCell(r.state)}</h1>
${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
${d.queued ? html`<p class="notice" role="status">A sync of this record is queued or running; this page refreshes until it is done.</p>` : ''}
${
  failing && r.error
    ? html`<div class="error" role="alert"><strong>Why it did not sync:</strong> ${r.error.message}${fix ? html`<div class="fix"><strong>Fix:</strong> ${fix}</div>` : ''}</div>`
    : ''
}
<form method="post" action="/records/${r.id}/resubmit"><button type="submit"${failing ? '' : html` class="secondary"`}>Resubmit</button>
<span class="mute">syncs this record again now (after fixing the cause)</span></form>
<div class="grid" style="margin-top:1rem">
<section class="card"><h2>Record</h2><table><tbody>
<tr><th scope="row">Customer</th><td>${r.customer ?? '—'}</td></tr>
<tr><th scope="row">Partner Center referral</th><td>${r.referralId ?? 'not created yet'}${d.partnerCenter.url ? html` · <a href="${d.partnerCenter.url}" rel="noreferrer">open in Partner Center</a>` : ''}</td></tr>
<tr><th scope="row">CRM record</th><td>${r.crmId ?? 'not created yet'} (${r.dealKind})${d.crm.url ? html` · <a href="${d.crm.url}" rel="noreferrer">open in the CRM</a>` : ''}</td></tr>
<tr><th scope="row">Last sync</th><td>${when(r.lastRunAt)} ${r.lastOutcome ?? ''}</td></tr>
</tbody></table></section>
<section class="card"><h2>Last change</h2>${
    d.lastChange
      ? html`<p class="mute">run #${d.lastChange.id}, ${when(d.lastChange.startedAt)}, ${d.lastChange.direction}</p><table><thead><tr><th>Field</th><th>Before</th><th>After</th></tr></thead><tbody>${d.lastChange.diff
          .filter((c) => show(c.before) !== '—' || show(c.after) !== '—')
          .map(
            (c) => html`<tr><td>${c.field}</td><td>${show(c.before)}</td><td>${show(c.after)}</td></tr>`,
          )}</tbody></table>`
      : html`<p class="mute">Nothing written yet.</p>`
  }</section></div>
<section class="card" style="margin-top:1rem"><h2>Both sides now</h2>
${d.partnerCenter.error ? html`<div class="error">Partner Center could not be read: ${d.partnerCenter.error}</div>` : ''}
${d.crm.error ? html`<div class="error">The CRM could not be read: ${d.crm.error}</div>` : ''}
<table class="sides"><thead><tr><th>Field</th><th>Partner Center</th><th>CRM</th></tr></thead><tbody>${d.fields.map(
    (f) =>
      html`<tr${differs(f.partnerCenter, f.crm) ? html` class="differs"` : ''}><td>${f.label}</td><td>${show(f.partnerCenter)}</td><td>${show(f.crm)}</td></tr>`,
  )}</tbody></table><p class="mute">Highlighted rows hold different values on the two sides (a change still to sync, or a field synced one way only); — is a side that says nothing about the field.</p></section>
<section class="card" style="margin-top:1rem"><h2>Audit trail (CRM)</h2>${
    d.audit.length
      ? html`<ol class="audit">${d.audit.map((line) => html`<li>${line}</li>`)}</ol>`
      : html`<p class="mute">No audit lines.</p>`
  }</section>
<section class="card" style="margin-top:1rem"><h2>Runs</h2>${runsTable(d.runs)}</section>`;
}

export function failuresPage(
  f: { groups: FailureGroup[]; total: number; shown: number },
  notice?: string,
): Html {
  return html`<h1>Failures</h1>
${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
${
  f.total === 0
    ? html`<p class="ok mark">✔ No failing records.</p>`
    : html`<p>${f.total} record${f.total === 1 ? '' : 's'} did not sync${f.shown < f.total ? ` (the ${f.shown} newest shown)` : ''}, grouped by cause. Fix the cause, then resubmit.</p>
<form method="post" action="/failures/resubmit">
<p><button type="submit" name="scope" value="selected">Resubmit selected</button>
<button type="submit" name="scope" value="all" class="secondary">Resubmit all failed</button></p>
${f.groups.map(
  (g) => html`<section class="card" style="margin-bottom:1rem"><h2>${g.count} × ${g.message}</h2>
${g.fix ? html`<div class="fix"><strong>Fix:</strong> ${g.fix}</div>` : ''}
${recordsTable(g.records, { select: true, errors: false })}</section>`,
)}</form>`
}`;
}

export function settingsPage(s: SettingsJson): Html {
  return html`<h1>Settings</h1>
<section class="card"><h2>Field mapping</h2>
<table><thead><tr><th>Field</th><th>Partner Center</th><th>CRM (deal property)</th><th>Direction</th><th>Owner on conflict</th><th>Kind</th></tr></thead><tbody>${s.mapping.map(
    (m) => html`<tr><td>${m.label}</td><td>${m.partnerCenter}</td><td>${m.crm}</td>
<td>${m.direction === 'both' ? '⇄ both' : m.direction === 'toCrm' ? '→ CRM' : '→ Partner Center'}</td><td>${m.owner === 'crm' ? 'CRM' : 'Partner Center'}</td><td>${m.kind}</td></tr>`,
  )}</tbody></table><p class="mute">Change direction and owner with engine.mapping.fields in the config file.</p></section>
<section class="card" style="margin-top:1rem"><h2>Effective configuration</h2>
<p class="mute">Defaults applied; secrets show only the variable they come from.</p>
<pre>${JSON.stringify(s.config, null, 2)}</pre></section>`;
}

export function loginPage(next: string, failed: boolean): Html {
  return html`<h1>Sign in</h1>
${failed ? html`<p class="error" role="alert">That is not the admin token this service was started with.</p>` : ''}
<form method="post" action="/login" class="card" style="max-width:28rem">
<input type="hidden" name="next" value="${next}">
<label>Admin token (COSELL_ADMIN_TOKEN)<input type="password" name="token" autocomplete="current-password" required autofocus></label>
<p><button type="submit">Sign in</button></p></form>`;
}
