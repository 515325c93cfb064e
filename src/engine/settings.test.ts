import { describe, expect, it } from 'vitest';
import { SYNC_MAPPING } from './deal-values.ts';
import { MAPPED_FIELDS, parseEngineSettings } from './settings.ts';

describe('engine settings', () => {
  it('R22 every field the sync maps can be given a direction and an owner in the config, and no other', () => {
    expect([...MAPPED_FIELDS].sort()).toEqual(SYNC_MAPPING.map((m) => m.field).sort());
    expect(() =>
      parseEngineSettings({ mapping: { fields: { industry: { owner: 'crm' } } } } as never),
    ).toThrow(/industry/);
  });
});
