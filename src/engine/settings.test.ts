import { describe, expect, it } from 'vitest';
import { SYNC_MAPPING } from '../core/deal-values.ts';
import { MAPPED_FIELDS, parseEngineSettings } from './settings.ts';

describe('engine settings', () => {
  it('R22 every field the sync maps can be given a direction and an owner in the config, and no other', () => {
    expect(MAPPED_FIELDS).toContain('solutionPlay');
    for (const { field } of SYNC_MAPPING) {
      const settings = parseEngineSettings({ mapping: { fields: { [field]: { owner: 'partnerCenter' } } } });
      expect(settings.mapping.fields[field]).toEqual({ owner: 'partnerCenter' });
    }
    expect(() =>
      parseEngineSettings({ mapping: { fields: { industry: { owner: 'crm' } } } } as never),
    ).toThrow(/industry/);
  });
});
