import { describe, expect, it } from 'vitest';
import { decisionFieldSchema, decisionOf } from './decision.ts';

describe('the decision field (R8)', () => {
  const field = decisionFieldSchema.parse({
    field: 'Co_sell_decision__c',
    accept: 'Accept',
    decline: 'Decline',
  });

  it('R8 reads accept, decline or no answer from the stored value, exactly', () => {
    expect(decisionOf('Accept', field)).toBe('accept');
    expect(decisionOf('Decline', field)).toBe('decline');
    expect(decisionOf('accept', field)).toBeNull();
    expect(decisionOf(null, field)).toBeNull();
    expect(decisionOf('Accept', null)).toBeNull();
    const choice = decisionFieldSchema.parse({
      field: 'new_decision',
      accept: 100000000,
      decline: 100000001,
    });
    expect(decisionOf(100000001, choice)).toBe('decline');
  });

  it('R8 refuses a label for a field name and the same value for both answers', () => {
    expect(() => decisionFieldSchema.parse({ field: 'Co-sell decision', accept: 'A', decline: 'D' })).toThrow(
      /API \/ logical name/,
    );
    expect(() => decisionFieldSchema.parse({ field: 'X__c', accept: 'Yes', decline: 'Yes' })).toThrow(
      /different/,
    );
  });
});
