import { describe, expect, it } from 'vitest';
import { DEFAULT_WEBHOOK_EVENTS, REFERRAL_WEBHOOK_EVENTS } from './constants.ts';
import { compareRegistration } from './webhooks.ts';

const ours = 'https://cosell.contoso.example/webhooks/partner-center';

describe('compareRegistration', () => {
  it('R1 no registration is missing', () => {
    expect(compareRegistration(null, ours, DEFAULT_WEBHOOK_EVENTS)).toEqual({ state: 'missing' });
  });

  it('R1 same URL with the same events in another order and case is ours and complete', () => {
    const state = compareRegistration(
      { webhookUrl: ours, webhookEvents: [...DEFAULT_WEBHOOK_EVENTS].reverse().map((e) => e.toUpperCase()) },
      ours,
      DEFAULT_WEBHOOK_EVENTS,
    );
    expect(state).toMatchObject({ state: 'ours', missingEvents: [], extraEvents: [] });
  });

  it('R1 same URL lists missing and extra events', () => {
    const state = compareRegistration(
      { webhookUrl: ours, webhookEvents: ['referral-created', 'subscription-updated'] },
      ours,
      REFERRAL_WEBHOOK_EVENTS,
    );
    expect(state).toMatchObject({
      state: 'ours',
      missingEvents: ['referral-updated', 'related-referral-created', 'related-referral-updated'],
      extraEvents: ['subscription-updated'],
    });
  });

  it('R1 another URL is drift and the message names it and --force', () => {
    const flow = 'https://prod-12.westus.logic.azure.com/workflows/abc/triggers/manual/paths/invoke';
    const state = compareRegistration({ webhookUrl: flow, webhookEvents: [] }, ours, DEFAULT_WEBHOOK_EVENTS);
    expect(state.state).toBe('drift');
    if (state.state === 'drift') {
      expect(state.message).toContain(flow);
      expect(state.message).toContain('Power Automate');
      expect(state.message).toContain('--force');
    }
  });

  it('R1 the default events are the four referral events plus test-created', () => {
    expect(DEFAULT_WEBHOOK_EVENTS).toEqual([
      'referral-created',
      'referral-updated',
      'related-referral-created',
      'related-referral-updated',
      'test-created',
    ]);
  });
});
