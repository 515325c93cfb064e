// The figures of a reliability run: one table for people, one JSON for machines, one line for CI logs.
import type { CrashFigures } from './crash.ts';
import type { HostileFigures } from './hostile.ts';
import type { ScenarioResult } from './scenarios.ts';

export interface Figures {
  seed: number;
  crashes: CrashFigures[];
  /** Faults that need an operator's fix, one run per CRM. */
  scenarios: (ScenarioResult & { crm: string })[];
  hostile: HostileFigures[];
}

export interface Totals {
  killPoints: number;
  acknowledged: number;
  /** Records without their counterpart, plus user edits that never arrived. */
  lost: number;
  duplicated: number;
  hostileInputs: number;
  crashes: number;
  /** Anything else that is wrong: stuck jobs, open intents, silent drops, leaks, requests off the allow-list. */
  otherProblems: number;
}

export function totals(f: Figures): Totals {
  const sum = <T>(items: T[], of: (item: T) => number) => items.reduce((s, i) => s + of(i), 0);
  const cases = f.hostile.flatMap((h) => h.cases);
  return {
    killPoints: sum(f.crashes, (c) => c.killPoints.backfill + c.killPoints.live),
    acknowledged: sum(f.crashes, (c) => c.eventsAcknowledged),
    lost: sum(f.crashes, (c) => c.verdict.lost + c.verdict.wrongValue),
    duplicated: sum(f.crashes, (c) => c.verdict.duplicated),
    hostileInputs: cases.length + sum(f.hostile, (h) => h.burst.requests),
    crashes:
      cases.filter((c) => c.outcome === 'crashed').length +
      f.hostile.filter((h) => !h.burst.legitimateDelivered).length,
    otherProblems:
      sum(f.crashes, (c) => Object.values(c.stuck).reduce((s, n) => s + n, 0)) +
      sum(
        f.crashes,
        (c) => c.verdict.problems.length - c.verdict.lost - c.verdict.duplicated - c.verdict.wrongValue,
      ) +
      cases.filter((c) => c.outcome === 'silent' || c.outcome === 'leaked').length +
      f.scenarios.filter((s) => !s.recovered || !s.causeShown).length +
      sum(f.crashes, (c) => c.logUnseen.length) +
      sum(f.hostile, (h) => h.offListRequests),
  };
}

export function healthy(f: Figures): boolean {
  const t = totals(f);
  return t.lost === 0 && t.duplicated === 0 && t.crashes === 0 && t.otherProblems === 0;
}

/** `reliability: <K> kill points, <A> events acknowledged, <L> lost, <D> duplicated, <H> hostile inputs, <C> crashes` */
export function finalLine(f: Figures): string {
  const t = totals(f);
  return `reliability: ${t.killPoints} kill points, ${t.acknowledged} events acknowledged, ${t.lost} lost, ${t.duplicated} duplicated, ${t.hostileInputs} hostile inputs, ${t.crashes} crashes`;
}

const table = (header: string[], rows: (string | number)[][]) => {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(cells[0]!),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...cells.slice(1).map(line),
  ].join('\n');
};

export function renderTable(f: Figures): string {
  const parts: string[] = [`Reliability run, seed ${f.seed}`, ''];
  parts.push(
    table(
      [
        'crm',
        'kill points (backfill + live)',
        'records',
        'events acknowledged',
        'lost',
        'stale values',
        'duplicated',
        'stuck jobs / inbox / intents / half-moved',
        'quiet after',
        'took',
      ],
      f.crashes.map((c) => [
        c.crm,
        `${c.killPoints.backfill + c.killPoints.live} (${c.killPoints.backfill} + ${c.killPoints.live})`,
        c.records,
        `${c.eventsAcknowledged} (${c.verdict.acknowledgedLost})`,
        c.verdict.lost,
        c.verdict.wrongValue,
        c.verdict.duplicated,
        `${c.stuck.jobs + c.stuck.deadLettered} / ${c.stuck.inbox} / ${c.stuck.openIntents} / ${c.stuck.halfMoved}`,
        `${(c.quiescentAfterMs / 1000).toFixed(1)} s`,
        `${Math.round(c.durationMs / 1000)} s`,
      ]),
    ),
  );
  const kinds = [...new Set(f.crashes.flatMap((c) => Object.keys(c.faults)))];
  parts.push(
    '',
    table(
      [
        'fault',
        ...f.crashes.map((c) => `${c.crm}: injected (calls or events hit), cause in the log`),
        'recovered',
      ],
      kinds.map((k) => [
        k,
        ...f.crashes.map((c) => {
          const tally = c.faults[k];
          if (!tally) return 'not on this CRM';
          const logged =
            tally.seenInLog === null ? 'no call failed' : `${tally.seenInLog} of ${tally.injected}`;
          return `${tally.injected} (${tally.callsFaulted}), ${logged}`;
        }),
        f.crashes.every((c) => c.verdict.problems.length === 0) ? 'yes' : 'NO',
      ]),
    ),
  );
  if (f.scenarios.length > 0) {
    parts.push(
      '',
      table(
        ['operator fault', 'crm', 'dashboard said', 'recovered after the fix'],
        f.scenarios.map((s) => [
          s.name,
          s.crm,
          (s.causeShown ?? 'NOTHING').slice(0, 90),
          s.recovered ? 'yes' : `NO (${s.detail})`,
        ]),
      ),
    );
  }
  const groups = [...new Set(f.hostile.flatMap((h) => h.cases.map((c) => c.group)))];
  const count = (h: HostileFigures, group: string, outcome?: string) =>
    h.cases.filter((c) => c.group === group && (!outcome || c.outcome === outcome)).length;
  parts.push(
    '',
    table(
      [
        'hostile input',
        ...f.hostile.map(
          (h) => `${h.crm}: tried / refused / adjusted / synced / harmless / crashed / silent or leaked`,
        ),
      ],
      [
        ...groups.map((g) => [
          g,
          ...f.hostile.map(
            (h) =>
              `${count(h, g)} / ${count(h, g, 'refused')} / ${count(h, g, 'adjusted')} / ${count(h, g, 'synced')} / ${count(h, g, 'harmless')} / ${count(h, g, 'crashed')} / ${count(h, g, 'silent') + count(h, g, 'leaked')}`,
          ),
        ]),
        [
          'burst of forged deliveries',
          ...f.hostile.map(
            (h) =>
              `${h.burst.requests} / ${h.burst.refused} refused; genuine event ${h.burst.legitimateDelivered ? 'delivered' : 'NOT delivered'}; RSS ${h.burst.rssMb.join(' -> ')} MB`,
          ),
        ],
        ['requests off the allow-list', ...f.hostile.map((h) => String(h.offListRequests))],
      ],
    ),
  );
  const problems = [
    ...f.crashes.flatMap((c) => c.verdict.problems.slice(0, 20).map((p) => `${c.crm}: ${p}`)),
    ...f.crashes.flatMap((c) =>
      c.logUnseen.map(
        (k) => `${c.crm}: fault '${k}' failed calls, and no log line named the API and the cause`,
      ),
    ),
    ...f.hostile.flatMap((h) =>
      h.cases
        .filter((c) => ['crashed', 'silent', 'leaked'].includes(c.outcome))
        .map((c) => `${h.crm}: ${c.group} '${c.name}': ${c.outcome} (${c.detail})`),
    ),
  ];
  if (problems.length > 0) parts.push('', 'Problems:', ...problems.map((p) => `- ${p}`));
  const t = totals(f);
  parts.push('', `totals: ${JSON.stringify(t)}`);
  return parts.join('\n');
}
