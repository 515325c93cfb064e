import { describe, expect, it } from 'vitest';
import { ASSISTANCE_CHOICES, solutionNames, VISIBILITY_CHOICES } from './fields.ts';
import { countryCodeOf, countryValueFor, effectiveSettings } from './mapping.ts';
import { readSolution, withPrefix } from './package-schema.ts';
import { parseDynamicsSettings } from './settings.ts';

describe('the shipped Dataverse solution and the adapter agree', () => {
  it('R18 every column, table, key, choice and environment variable the adapter names is in packaging/dynamics', async () => {
    const solution = await readSolution();
    const names = solutionNames(solution.publisher.prefix);
    const columnsOf = (table: string) =>
      solution.tables.find((t) => t.name === table)?.columns.map((c) => c.name);
    for (const column of Object.values(names.columns)) expect(columnsOf('opportunity')).toContain(column);
    for (const column of [names.columns.syncFlag, names.columns.referralId, names.columns.audit]) {
      expect(columnsOf('lead')).toContain(column);
    }
    const catalogue = solution.tables.find((t) => t.name === names.catalogue.table);
    expect(catalogue?.entitySet).toBe(names.catalogue.entitySet);
    expect(catalogue?.keys.map((k) => k.columns)).toEqual([[names.catalogue.solutionId]]);
    const junction = solution.tables.find((t) => t.name === names.junction.table);
    expect(junction?.columns.filter((c) => c.type === 'lookup').map((c) => [c.name, c.schemaName])).toEqual([
      [names.junction.deal, names.junction.dealNavigation],
      [names.junction.solution, names.junction.solutionNavigation],
    ]);
    expect(solution.tables.find((t) => t.name === 'opportunity')?.keys[0]?.name).toBe(names.referralKey);
    expect(solution.variables.map((v) => v.schemaName).sort()).toEqual(Object.values(names.variables).sort());
    const choice = (name: string) =>
      solution.choices.find((c) => c.name === name)?.options.map((o) => o.value);
    expect(choice(names.columns.assistance)).toEqual(Object.values(ASSISTANCE_CHOICES));
    expect(choice(names.columns.visibility)).toEqual(Object.values(VISIBILITY_CHOICES));
  });

  it('R18 the solution re-published under another prefix renames every custom name and nothing standard', async () => {
    const renamed = withPrefix(await readSolution(), 'contoso');
    const names = solutionNames('contoso');
    const opportunity = renamed.tables.find((t) => t.name === 'opportunity');
    expect(opportunity?.columns.map((c) => c.name)).toContain(names.columns.referralId);
    expect(renamed.tables.map((t) => t.name)).toContain(names.junction.table);
    expect(JSON.stringify(renamed)).not.toMatch(/cosell_/);
  });
});

describe('effective settings (R21)', () => {
  const variables = new Map([
    ['cosell_dealvaluefieldname', { value: 'new_dealvalue', defaultValue: 'estimatedvalue' }],
    ['cosell_displaycheckmarkinopportunityname', { value: null, defaultValue: 'no' }],
  ]);

  it('R21 take the config over the current value over the default value over the built-in default, and say which', () => {
    const e = effectiveSettings(parseDynamicsSettings({ syncCoSellOpportunitiesOnly: true }), variables);
    expect(e).toMatchObject({
      dealValueField: 'new_dealvalue',
      displayCheckMark: false,
      syncCoSellOpportunitiesOnly: true,
      accountCountryField: 'address1_country',
    });
    expect(e.sources).toEqual({
      dealValueField: 'environment variable (current value)',
      displayCheckMark: 'environment variable (default value)',
      syncCoSellOpportunitiesOnly: 'config',
      accountCountryField: 'built-in default',
    });
  });

  it('R21 countries: codes and English names read as codes; written as the code or the name', () => {
    expect(countryCodeOf('us')).toBe('US');
    expect(countryCodeOf('United States')).toBe('US');
    expect(countryCodeOf('Narnia')).toBe('Narnia');
    expect(countryValueFor('GB', 'code')).toBe('GB');
    expect(countryValueFor('DE', 'name')).toBe('Germany');
  });
});
