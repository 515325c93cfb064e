import { describe, expect, it } from 'vitest';
import { describeMicrosoftSide } from './microsoft-side.ts';

describe('describeMicrosoftSide', () => {
  it("R7 says once what Microsoft did with its side of the co-sell, with Microsoft's reason", () => {
    expect(describeMicrosoftSide({ substatus: 'Declined', statusReason: 'Not a fit' }, 'Pending')).toBe(
      'Microsoft declined its side of the co-sell (Not a fit): the referral stays yours; no Microsoft seller works on it',
    );
    expect(describeMicrosoftSide({ substatus: 'Accepted', statusReason: null }, null)).toBe(
      'Microsoft accepted its side of the co-sell',
    );
    expect(describeMicrosoftSide({ substatus: 'Lost', statusReason: null }, 'Accepted')).toMatch(
      /closed .* as Lost/,
    );
    // Already shown, or nothing to say.
    expect(describeMicrosoftSide({ substatus: 'Declined', statusReason: null }, 'Declined')).toBeNull();
    expect(describeMicrosoftSide({ substatus: 'Pending', statusReason: null }, null)).toBeNull();
  });
});
