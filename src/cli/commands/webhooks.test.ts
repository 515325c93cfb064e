import { describe, expect, it } from 'vitest';
import { describeValidation, validationVerdict } from './webhooks.ts';

const base = {
  correlationId: 'c-1',
  status: 'completed',
  callbackUrl: 'https://cosell.example.com/webhooks/partner-center',
};

describe('cosell webhooks test', () => {
  it('R1 a 200 from the receiver is success', () => {
    const result = {
      ...base,
      results: [{ responseCode: 'OK', systemError: false, dateTimeUtc: '2026-12-05T10:00:00Z' }],
    };
    expect(validationVerdict(result)).toBeUndefined();
    expect(describeValidation(result)).toBe(
      'Test event c-1: completed, sent to https://cosell.example.com/webhooks/partner-center\n  2026-12-05T10:00:00Z OK\n',
    );
  });

  it('R1 R2 a refused signature names the log line and the trust-anchor fix', () => {
    const verdict = validationVerdict({
      ...base,
      results: [{ responseCode: 'Unauthorized', systemError: false }],
    });
    expect(verdict?.message).toMatch(/refused the test event's signature/);
    expect(verdict?.fix).toMatch(/webhook-refused.*certificateUrl.*trustAnchors/);
  });

  it('R1 an unreachable receiver and a missing result are failures with their fix', () => {
    expect(
      validationVerdict({ ...base, results: [{ responseCode: '', systemError: true }] })?.message,
    ).toMatch(/could not be reached/);
    expect(validationVerdict({ ...base, status: 'pending', results: [] })?.fix).toMatch(/--wait 120/);
  });
});
