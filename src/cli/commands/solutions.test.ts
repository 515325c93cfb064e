import { describe, expect, it } from 'vitest';
import { parseSolutionsCsv } from './solutions.ts';

describe('parseSolutionsCsv', () => {
  it('R15 reads id and name under the usual header spellings, a byte-order mark and quoted commas', () => {
    const { rows, problems } = parseSolutionsCsv(
      '\uFEFFSolution Id,Solution Name\r\nSOL-1,"A, B"\r\nSOL-2,\r\n',
    );
    expect(problems).toEqual([]);
    expect(rows).toEqual([
      { line: 2, id: 'SOL-1', name: 'A, B' },
      { line: 3, id: 'SOL-2', name: null },
    ]);
  });

  it('R15 names each bad row by its line: too long, odd characters; a file without an id column says which header it found', () => {
    const { problems } = parseSolutionsCsv(
      `id,name\n${'X'.repeat(51)},a\nSOL 3,b\nSOL-4,${'n'.repeat(201)}\n`,
    );
    expect(problems).toEqual([
      { line: 2, message: 'the id has 51 characters (at most 50)' },
      {
        line: 3,
        message:
          'the id "SOL 3" has characters a Partner Center solution id never has (letters, digits, - . _)',
      },
      { line: 4, message: 'the name has 201 characters (at most 200)' },
    ]);
    expect(parseSolutionsCsv('code,label\nSOL-1,a\n').problems[0]!.message).toContain(
      'the header has no id column (found: code, label)',
    );
    expect(parseSolutionsCsv('id,name\n"SOL-1,a\n').problems[0]!.message).toMatch(/^not readable as CSV/);
  });
});
