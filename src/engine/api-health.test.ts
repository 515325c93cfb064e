import { describe, expect, it } from 'vitest';
import { CrmError } from '../crm/port.ts';
import { PartnerCenterError } from '../partner-center/errors.ts';
import { callStatusOf } from './api-calls.ts';
import { ApiHealth } from './api-health.ts';

describe('API health from the sync’s own calls (/readyz, /metrics)', () => {
  it('R28 an API is unreachable after a network failure or a 5xx until a call succeeds again; a 429 is not an outage', () => {
    let now = 0;
    const health = new ApiHealth(() => new Date(now));
    const report = (api: 'partner-center' | 'crm') => health.report().find((h) => h.api === api)!;
    expect(report('crm')).toMatchObject({ reachable: true, lastOkAt: null, calls: {} });

    health.record('crm', 3);
    now = 1000;
    health.record(
      'crm',
      2,
      Object.assign(new Error('connect ECONNREFUSED 10.0.0.4:443'), { code: 'ECONNREFUSED' }),
    );
    expect(report('crm')).toMatchObject({
      reachable: false,
      calls: { ok: 4, unreachable: 1 },
      lastFailure: { status: 'unreachable', message: 'connect ECONNREFUSED 10.0.0.4:443' },
    });
    now = 2000;
    health.record('crm', 1);
    expect(report('crm').reachable).toBe(true);

    now = 3000;
    health.record('partner-center', 1, { status: 429, message: 'Too many requests' });
    expect(report('partner-center')).toMatchObject({ reachable: true, calls: { throttled: 1 } });
    health.record('partner-center', 1, { status: 503, message: 'Service unavailable' });
    expect(report('partner-center').reachable).toBe(false);
  });

  it('names how a call ended from either client’s error', () => {
    expect(callStatusOf({ status: 401 })).toBe('unauthorized');
    expect(callStatusOf({ status: 400 })).toBe('client-error');
    expect(callStatusOf({ status: 502 })).toBe('server-error');
    expect(callStatusOf(new Error('socket hang up'))).toBe('unreachable');
    expect(
      callStatusOf(
        new CrmError({ crm: 'salesforce', operation: 'query', message: 'expired', authFailed: true }),
      ),
    ).toBe('unauthorized');
    expect(
      callStatusOf(
        new PartnerCenterError({
          api: 'referrals',
          method: 'GET',
          path: '/x',
          status: 429,
          code: 'throttled',
          message: 'slow down',
        } as ConstructorParameters<typeof PartnerCenterError>[0]),
      ),
    ).toBe('throttled');
  });
});
