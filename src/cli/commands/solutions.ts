// `cosell solutions import file.csv` (R15): bulk-loads the solution catalogue (Microsoft Solution Details) sellers
// pick from. Every row is checked first and each bad one reported with its line number; if any is bad nothing is
// written (unless --skip-invalid), so a half-loaded catalogue never happens by accident. Progress is shown per
// batch; a second import of the same file changes nothing.
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse } from 'csv-parse/sync';
import type { SolutionRef } from '../../core/deal.ts';
import type { CrmAdapter, SolutionImportResult } from '../../crm/port.ts';
import { CONFIG_OPTION_HELP, loadConfigFromFlags } from '../config-file.ts';
import { CliError } from '../errors.ts';

/** What the catalogue fields hold (Salesforce Solution_Id__c, Dataverse solution id column). */
const ID_MAX = 50;
const NAME_MAX = 200;
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const BATCH = 200;

/** Header names accepted per column (compared without case, spaces and underscores). */
const HEADERS: Readonly<Record<'id' | 'name', readonly string[]>> = {
  id: ['id', 'solutionid', 'partnercentersolutionid'],
  name: ['name', 'solutionname'],
};

export interface SolutionRow extends SolutionRef {
  line: number;
}

export interface CsvProblem {
  line: number;
  message: string;
}

const squash = (header: string) => header.toLowerCase().replace(/[\s_]/g, '');

/** Parses and checks the whole file; returns the good rows and every problem, each with its line. */
export function parseSolutionsCsv(text: string): { rows: SolutionRow[]; problems: CsvProblem[] } {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text.replace(/^\uFEFF/, ''), {
      info: true,
      skip_empty_lines: true,
      relax_column_count: true,
      trim: true,
    }) as { record: string[]; info: { lines: number } }[];
  } catch (error) {
    const line = (error as { lines?: number }).lines ?? 1;
    return { rows: [], problems: [{ line, message: `not readable as CSV: ${(error as Error).message}` }] };
  }
  const [header, ...body] = records;
  if (!header) return { rows: [], problems: [{ line: 1, message: 'the file is empty' }] };
  const columns = header.record.map(squash);
  const idAt = columns.findIndex((c) => HEADERS.id.includes(c));
  const nameAt = columns.findIndex((c) => HEADERS.name.includes(c));
  if (idAt < 0) {
    return {
      rows: [],
      problems: [
        {
          line: header.info.lines,
          message: `the header has no id column (found: ${header.record.join(', ')}); name it "id" (and "name" for the display name)`,
        },
      ],
    };
  }
  const rows: SolutionRow[] = [];
  const problems: CsvProblem[] = [];
  const seen = new Map<string, number>();
  for (const { record, info } of body) {
    const line = info.lines;
    const id = record[idAt] ?? '';
    const name = nameAt >= 0 ? (record[nameAt] ?? '') : '';
    const wrong: string[] = [];
    if (!id) wrong.push('the id is empty');
    else if (id.length > ID_MAX) wrong.push(`the id has ${id.length} characters (at most ${ID_MAX})`);
    else if (!ID_PATTERN.test(id))
      wrong.push(
        `the id "${id}" has characters a Partner Center solution id never has (letters, digits, - . _)`,
      );
    if (name.length > NAME_MAX) wrong.push(`the name has ${name.length} characters (at most ${NAME_MAX})`);
    const first = seen.get(id.toLowerCase());
    if (id && first !== undefined) wrong.push(`the id "${id}" is already on line ${first}`);
    if (wrong.length > 0) {
      problems.push({ line, message: wrong.join('; ') });
      continue;
    }
    seen.set(id.toLowerCase(), line);
    rows.push({ line, id, name: name || null });
  }
  return { rows, problems };
}

export interface ImportSummary extends SolutionImportResult {
  rows: number;
  skipped: number;
  problems: CsvProblem[];
}

/** Checks the file, then writes it in batches (nothing at all when a row is bad, unless `skipInvalid`). */
export async function importSolutionsCsv(
  crm: CrmAdapter,
  text: string,
  options: {
    skipInvalid?: boolean;
    onProgress?: (done: number, total: number, counts: SolutionImportResult) => void;
  },
): Promise<ImportSummary> {
  const { rows, problems } = parseSolutionsCsv(text);
  const summary: ImportSummary = {
    rows: rows.length + problems.length,
    created: 0,
    updated: 0,
    unchanged: 0,
    skipped: problems.length,
    problems,
  };
  if (problems.length > 0 && !options.skipInvalid) return summary;
  for (let i = 0; i < rows.length; i += BATCH) {
    const batch = rows.slice(i, i + BATCH).map(({ id, name }) => ({ id, name }));
    const counts = await crm.importSolutions(batch);
    summary.created += counts.created;
    summary.updated += counts.updated;
    summary.unchanged += counts.unchanged;
    options.onProgress?.(Math.min(i + BATCH, rows.length), rows.length, summary);
  }
  return summary;
}

interface ImportFlags {
  config?: string;
  skipInvalid?: boolean;
  json?: boolean;
}

export function registerSolutionsCommand(program: Command): void {
  const solutions = program
    .command('solutions')
    .description('The solution catalogue (Microsoft Solution Details) sellers pick solutions from.');
  solutions
    .command('import')
    .description(
      'Load solutions from a CSV file with the columns id and name (a header row first). Every row is checked before anything is written.',
    )
    .argument('<file>', 'the CSV file')
    .option('--config <file>', CONFIG_OPTION_HELP)
    .option('--skip-invalid', 'write the good rows even when some are bad (the bad ones are listed)')
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, flags: ImportFlags) => {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        throw new CliError(
          `Cannot read ${file}: ${(error as Error).message}`,
          'Give the path of a CSV file.',
          2,
        );
      }
      const config = await loadConfigFromFlags(flags.config);
      const { connectCrm } = await import('../service.ts');
      const crm = await connectCrm(config);
      const out = (line: string) => {
        if (!flags.json) process.stdout.write(`${line}\n`);
      };
      const summary = await importSolutionsCsv(crm, text, {
        skipInvalid: flags.skipInvalid ?? false,
        onProgress: (done, total, c) =>
          out(
            `imported ${done}/${total}: ${c.created} created, ${c.updated} updated, ${c.unchanged} unchanged`,
          ),
      });
      for (const problem of summary.problems) out(`line ${problem.line}: ${problem.message}`);
      if (flags.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      if (summary.problems.length > 0 && !flags.skipInvalid) {
        throw new CliError(
          `${summary.problems.length} of ${summary.rows} rows of ${file} are not valid: nothing was written.`,
          'Fix the lines above and import again, or add --skip-invalid to load the valid rows only.',
        );
      }
      out(
        `Done: ${summary.created} created, ${summary.updated} updated, ${summary.unchanged} unchanged${
          summary.skipped ? `, ${summary.skipped} invalid rows skipped` : ''
        }.`,
      );
    });
}
