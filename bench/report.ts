// The bench's results as a reader meets them: markdown tables, the targets of issue 12 with whether each holds,
// and an SVG of latency distributions and calls per change.
import type { CallsRow } from './calls.ts';
import type { IdleRow } from './idle.ts';
import type { LatencyRow } from './latency.ts';
import type { Cost } from './lib/counters.ts';

export interface BenchResults {
  startedAt: string;
  machine: { node: string; cpus: number; platform: string };
  latency: LatencyRow[];
  calls: CallsRow[];
  /** The first referral each way in a process, metadata reads included (not in the per-change rows). */
  firstUse: { crm: string; partnerCenter: Cost; crmApi: Cost }[];
  idle: IdleRow[];
}

export interface Target {
  name: string;
  crm: string;
  target: string;
  measured: string;
  holds: boolean;
}

const crmName = (crm: string) => (crm === 'salesforce' ? 'Salesforce' : 'Dynamics 365');
const n = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(2));

function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function callsRow(results: BenchResults, crm: string, direction: string, kind: string) {
  return results.calls.find((r) => r.crm === crm && r.direction === direction && r.kind === kind);
}

function latencyRow(results: BenchResults, crm: string, direction: string, setting: string) {
  return results.latency.find((r) => r.crm === crm && r.direction === direction && r.setting === setting);
}

/** The targets of issue 12 that this run measured, each with its figure. */
export function targets(results: BenchResults, pollMs: Record<string, number>): Target[] {
  const out: Target[] = [];
  const crms = [...new Set(results.calls.map((r) => r.crm).concat(results.latency.map((r) => r.crm)))];
  for (const crm of crms) {
    const calls = (direction: string, kind: string) => callsRow(results, crm, direction, kind);
    const pcCheck = (
      name: string,
      row: CallsRow | undefined,
      target: string,
      ok: (r: CallsRow) => boolean,
    ) => {
      if (!row) return;
      const e = row.partnerCenter.endpoints;
      const detail = Object.entries(e)
        .map(([k, v]) => `${n(v)}× ${k.replace('/v1.0/engagements/referrals', '…')}`)
        .join(', ');
      out.push({ name, crm, target, measured: detail || 'none', holds: ok(row) });
    };
    const gets = (r: CallsRow) => r.partnerCenter.reads;
    const writes = (r: CallsRow) => r.partnerCenter.writes;
    pcCheck(
      'Partner Center: Microsoft-side update',
      calls('toCrm', 'update-1-field'),
      '1 GET',
      (r) => gets(r) <= 1 && writes(r) === 0,
    );
    pcCheck(
      'Partner Center: CRM→PC update',
      calls('toReferral', 'update-1-field'),
      '1 PATCH (If-Match from the snapshot)',
      (r) => gets(r) === 0 && writes(r) <= 1,
    );
    pcCheck(
      'Partner Center: new incoming referral',
      calls('toCrm', 'create'),
      '1 GET + 1 PATCH',
      (r) => gets(r) <= 1 && writes(r) <= 1,
    );
    pcCheck(
      'Partner Center: CRM→PC create',
      calls('toReferral', 'create'),
      '1 POST',
      (r) => gets(r) === 0 && writes(r) <= 1,
    );
    const crmCheck = (
      name: string,
      row: CallsRow | undefined,
      target: string,
      ok: (r: CallsRow) => boolean,
    ) => {
      if (!row) return;
      out.push({
        name,
        crm,
        target,
        measured: `${n(row.crmApi.requests)} requests (${n(row.crmApi.reads)} reads, ${n(row.crmApi.writes)} writes)`,
        holds: ok(row),
      });
    };
    crmCheck(
      'CRM: create from a referral',
      calls('toCrm', 'create'),
      '≤ 2 requests',
      (r) => r.crmApi.requests <= 2,
    );
    crmCheck(
      'CRM: update from a referral',
      calls('toCrm', 'update-1-field'),
      '≤ 2 requests',
      (r) => r.crmApi.requests <= 2,
    );
    for (const kind of ['no-op', 'echo'] as const) {
      for (const direction of ['toCrm', 'toReferral'] as const) {
        const row = calls(direction, kind);
        if (!row) continue;
        out.push({
          name: `${kind} (${direction === 'toCrm' ? 'PC→CRM' : 'CRM→PC'}): 0 writes`,
          crm,
          target: '0 writes on either API',
          measured: `${n(row.partnerCenter.writes)} PC writes, ${n(row.crmApi.writes)} CRM writes`,
          holds: row.partnerCenter.writes === 0 && row.crmApi.writes === 0,
        });
      }
    }
    const toCrm = latencyRow(results, crm, 'toCrm', 'defaults');
    if (toCrm)
      out.push({
        name: 'Latency PC→CRM p95',
        crm,
        target: '< 250 ms',
        measured: `${n(toCrm.ms.p95)} ms`,
        holds: toCrm.ms.p95 < 250,
      });
    for (const row of results.latency.filter((r) => r.crm === crm && r.direction === 'toReferral')) {
      const poll = pollMs[row.setting] ?? 0;
      out.push({
        name: `Latency CRM→PC p95 (${row.setting})`,
        crm,
        target: `≤ poll ${poll} ms + 250 ms`,
        measured: `${n(row.ms.p95)} ms`,
        holds: row.ms.p95 <= poll + 250,
      });
    }
    const idle = results.idle.find((r) => r.crm === crm && r.failedLinks === 0);
    if (idle)
      out.push({
        name: 'Idle CRM calls per day (defaults)',
        crm,
        target: '≤ 1,500',
        measured: `${idle.crmApi.requests} requests`,
        holds: idle.crmApi.requests <= 1_500,
      });
    const failing = results.idle.find((r) => r.crm === crm && r.failedLinks > 0);
    if (idle && failing) {
      const extra =
        failing.crmApi.requests +
        failing.partnerCenter.requests -
        idle.crmApi.requests -
        idle.partnerCenter.requests;
      out.push({
        name: `Idle with ${failing.failedLinks} failed links: no re-reads on a timer`,
        crm,
        target: '+0 calls per day',
        measured: `+${extra} calls per day`,
        holds: extra <= 0,
      });
    }
  }
  return out;
}

export function markdown(results: BenchResults, checks: Target[]): string {
  const parts: string[] = [];
  parts.push(
    `### Latency (ms, loopback, ${results.machine.cpus} cores, Node ${results.machine.node})\n\n${table(
      ['CRM', 'direction', 'settings', 'lanes', 'n', 'p50', 'p95', 'p99', 'max'],
      results.latency.map((r) => [
        crmName(r.crm),
        r.direction === 'toCrm' ? 'PC→CRM' : 'CRM→PC',
        r.setting,
        r.lanes,
        r.ms.n,
        r.ms.p50,
        r.ms.p95,
        r.ms.p99,
        r.ms.max,
      ]),
    )}`,
  );
  parts.push(
    `### API calls per change (emulators' counters; requests / reads / writes; idle polling subtracted)\n\n${table(
      ['CRM', 'direction', 'change', 'Partner Center', 'CRM', 'CRM detail'],
      results.calls.map((r) => [
        crmName(r.crm),
        r.direction === 'toCrm' ? 'PC→CRM' : 'CRM→PC',
        r.kind,
        `${n(r.partnerCenter.requests)} / ${n(r.partnerCenter.reads)} / ${n(r.partnerCenter.writes)}`,
        `${n(r.crmApi.requests)} / ${n(r.crmApi.reads)} / ${n(r.crmApi.writes)}`,
        Object.entries(r.crmApi.endpoints)
          .filter(([, v]) => v > 0.05)
          .map(([k, v]) => `${n(v)}× ${k}`)
          .join('<br>'),
      ]),
    )}`,
  );
  if (results.firstUse.length > 0) {
    parts.push(
      `### Once per process: the first referral each way, field metadata and currencies read (then cached)\n\n${table(
        ['CRM', 'Partner Center requests', 'CRM requests', 'CRM detail'],
        results.firstUse.map((r) => [
          crmName(r.crm),
          n(r.partnerCenter.requests),
          n(r.crmApi.requests),
          Object.entries(r.crmApi.endpoints)
            .map(([k, v]) => `${n(v)}× ${k}`)
            .join('<br>'),
        ]),
      )}`,
    );
  }
  if (results.idle.length > 0) {
    parts.push(
      `### Idle: one day of engine time, default settings, nothing changing\n\n${table(
        ['CRM', 'failed links', 'Partner Center requests', 'CRM requests', 'CRM reads (batched queries)'],
        results.idle.map((r) => [
          crmName(r.crm),
          r.failedLinks,
          r.partnerCenter.requests,
          r.crmApi.requests,
          r.crmApi.reads,
        ]),
      )}`,
    );
  }
  parts.push(
    `### Targets\n\n${table(
      ['CRM', 'what', 'target', 'measured', 'holds'],
      checks.map((t) => [crmName(t.crm), t.name, t.target, t.measured, t.holds ? 'yes' : '**no**']),
    )}`,
  );
  return parts.join('\n\n');
}

const COLOURS: Record<string, string> = { salesforce: '#00a1e0', dynamics: '#7a3fbf' };

/** Latency distributions (percentile curves, log scale) and calls per change (bars), one SVG. */
export function svg(results: BenchResults): string {
  const width = 960;
  const height = 330 + 60 + 14 * Math.max(6, results.latency.length);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<title>cosell bench ${results.startedAt.slice(0, 10)}: latency by percentile and API requests per change</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  // Left: latency percentile curves, x = percentile, y = ms (log).
  const [lx, ly, lw, lh] = [50, 30, 400, 330];
  const all = results.latency.flatMap((r) => r.samples);
  const maxMs = Math.max(10, ...all);
  const yOf = (ms: number) => ly + lh - (Math.log10(Math.max(1, ms)) / Math.log10(maxMs)) * lh;
  out.push(`<text x="${lx}" y="18" font-size="13">Latency by percentile (ms, log scale)</text>`);
  out.push(`<rect x="${lx}" y="${ly}" width="${lw}" height="${lh}" fill="none" stroke="#ccc"/>`);
  for (let decade = 1; decade <= maxMs; decade *= 10) {
    out.push(`<line x1="${lx}" x2="${lx + lw}" y1="${yOf(decade)}" y2="${yOf(decade)}" stroke="#eee"/>`);
    out.push(`<text x="${lx - 4}" y="${yOf(decade) + 4}" text-anchor="end">${decade}</text>`);
  }
  results.latency.forEach((row, index) => {
    const sorted = [...row.samples].sort((a, b) => a - b);
    if (sorted.length === 0) return;
    const points = sorted
      .map((ms, i) => `${(lx + (i / Math.max(1, sorted.length - 1)) * lw).toFixed(1)},${yOf(ms).toFixed(1)}`)
      .join(' ');
    const dash =
      row.direction === 'toCrm'
        ? ''
        : row.setting === 'defaults'
          ? ' stroke-dasharray="6 3"'
          : row.setting.startsWith('poll')
            ? ' stroke-dasharray="2 2"'
            : ' stroke-dasharray="10 2 2 2"';
    const legendY = ly + lh + 36 + index * 14;
    out.push(
      `<line x1="${lx}" x2="${lx + 26}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${COLOURS[row.crm] ?? '#333'}" stroke-width="1.5"${dash}/>`,
    );
    out.push(
      `<polyline points="${points}" fill="none" stroke="${COLOURS[row.crm] ?? '#333'}" stroke-width="1.5"${dash}/>`,
    );
    out.push(
      `<text x="${lx + 32}" y="${legendY}" fill="${COLOURS[row.crm] ?? '#333'}">${crmName(row.crm)} ${row.direction === 'toCrm' ? 'PC→CRM' : 'CRM→PC'} (${row.setting}): p95 ${n(row.ms.p95)} ms</text>`,
    );
  });
  out.push(`<text x="${lx + lw / 2}" y="${ly + lh + 16}" text-anchor="middle">percentile 0 → 100</text>`);
  // Right: calls per change, stacked Partner Center (dark) and CRM (light) requests.
  const [bx, by, bw, bh] = [500, 30, 440, 330];
  const rows = results.calls;
  const maxCalls = Math.max(1, ...rows.map((r) => r.partnerCenter.requests + r.crmApi.requests));
  const barH = Math.max(4, Math.min(14, bh / Math.max(1, rows.length) - 2));
  out.push(
    `<text x="${bx}" y="18" font-size="13">Requests per change (Partner Center dark, CRM light)</text>`,
  );
  rows.forEach((row, i) => {
    const y = by + i * (barH + 2);
    const scale = (bw - 225) / maxCalls;
    const colour = COLOURS[row.crm] ?? '#333';
    out.push(
      `<text x="${bx + 160}" y="${y + barH - 2}" text-anchor="end">${row.crm === 'salesforce' ? 'SF' : 'D365'} ${row.direction === 'toCrm' ? 'PC→CRM' : 'CRM→PC'} ${row.kind}</text>`,
    );
    out.push(
      `<rect x="${bx + 165}" y="${y}" width="${(row.partnerCenter.requests * scale).toFixed(1)}" height="${barH}" fill="#333"/>`,
    );
    out.push(
      `<rect x="${(bx + 165 + row.partnerCenter.requests * scale).toFixed(1)}" y="${y}" width="${(row.crmApi.requests * scale).toFixed(1)}" height="${barH}" fill="${colour}" opacity="0.6"/>`,
    );
    out.push(
      `<text x="${(bx + 168 + (row.partnerCenter.requests + row.crmApi.requests) * scale).toFixed(1)}" y="${y + barH - 2}">${n(row.partnerCenter.requests)} + ${n(row.crmApi.requests)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
