import { describe, expect, it } from 'vitest';
import { parseEngineSettings } from '../engine/settings.ts';
import {
  asksForServicesCoSell,
  DEFAULT_TAXONOMY,
  resolveServicesValues,
  type ServicesTaxonomy,
  SHIPPED_TAXONOMIES,
} from './services-taxonomy.ts';

describe("Microsoft's Services co-sell lists (R11)", () => {
  it('R11 the shipped list is versioned and internally consistent: unique areas, every area has plays', () => {
    for (const t of SHIPPED_TAXONOMIES) {
      expect(t.version).toMatch(/^FY\d{2}$/);
      const areas = t.solutionAreas.map((a) => a.name.toLowerCase());
      expect(new Set(areas).size).toBe(areas.length);
      for (const area of t.solutionAreas) expect(area.plays.length).toBeGreaterThan(0);
    }
    expect(DEFAULT_TAXONOMY).toBe(SHIPPED_TAXONOMIES[0]);
  });

  it('R11 values match case-insensitively and come back spelled as the list spells them', () => {
    const { values, problems } = resolveServicesValues(
      { partnerRole: 'MANAGED SERVICES', solutionArea: 'security', solutionPlay: 'data Security' },
      DEFAULT_TAXONOMY,
    );
    expect(problems).toEqual([]);
    expect(values).toEqual({
      partnerRole: 'Managed services',
      solutionArea: 'Security',
      solutionPlay: 'Data security',
    });
  });

  it('R11 a missing value, an unknown value and a play of another area are each named, with what is allowed', () => {
    const { problems } = resolveServicesValues(
      { partnerRole: null, solutionArea: 'Security', solutionPlay: 'Unify your data platform' },
      DEFAULT_TAXONOMY,
    );
    expect(problems.map((p) => p.field)).toEqual(['partnerRole', 'solutionPlay']);
    expect(problems[0]!.message).toMatch(
      /^Partner role is required for Services co-sell: pick one of Advisory/,
    );
    expect(problems[1]!.message).toMatch(
      /Solution play 'Unify your data platform' is not in Microsoft's FY26 list in Security: pick one of Modern SecOps/,
    );
    expect(problems[1]!.message).toMatch(/engine\.servicesTaxonomy/);
  });

  it('R11 a deal asks for Services co-sell once any of the three is filled', () => {
    expect(asksForServicesCoSell({})).toBe(false);
    expect(asksForServicesCoSell({ partnerRole: '  ' })).toBe(false);
    expect(asksForServicesCoSell({ solutionPlay: 'Data security' })).toBe(true);
  });

  it('R11 R22 a deployment replaces the lists in config (Microsoft renamed them before cosell was updated); a list without areas is refused', () => {
    const fy27: ServicesTaxonomy = {
      version: 'FY27',
      verified: true,
      partnerRoles: ['Implementation'],
      solutionAreas: [{ name: 'Agentic AI', plays: ['Frontier firm'] }],
    };
    const settings = parseEngineSettings({ servicesTaxonomy: fy27 });
    expect(settings.servicesTaxonomy.version).toBe('FY27');
    const { problems } = resolveServicesValues(
      { partnerRole: 'Implementation', solutionArea: 'Agentic AI', solutionPlay: 'Frontier firm' },
      settings.servicesTaxonomy,
    );
    expect(problems).toEqual([]);
    expect(parseEngineSettings({}).servicesTaxonomy.version).toBe('FY26');
    expect(() => parseEngineSettings({ servicesTaxonomy: { ...fy27, solutionAreas: [] } })).toThrow();
  });
});
