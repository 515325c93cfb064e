// `cosell backfill` into Dataverse meets its service protection (HTTP 429 with Retry-After) partway through an
// import, over real HTTP between processes. The import waits as long as Dataverse asks and finishes: every
// referral arrives once, none is left to the service. The emulator's window is shortened so the test takes
// seconds (a wait that short is waited out inside the call; the 5-minute waits of a real window pause the CRM
// and the command waits for the pause: src/cli/commands/backfill.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crmSide } from '../../reliability/crm-side.ts';
import { type Deployment, startDeployment } from '../../reliability/deployment.ts';
import { control } from '../../src/cli/demo-story.ts';

const REFERRALS = 12;

let d: Deployment;

beforeAll(async () => {
  d = await startDeployment('dynamics', { engine: {} });
}, 60_000);

afterAll(async () => {
  await d?.close();
});

describe('cosell backfill against Dataverse service protection', () => {
  it('R34 R27 a 429 partway through the import is waited out: every referral arrives once, nothing left to the service', async () => {
    const crmControl = d.crmInfo['control']!;
    const ids: string[] = [];
    for (let i = 0; i < REFERRALS; i++) {
      const referral = await control<{ id: string }>(d.pc.control, 'POST', '/incoming-referrals', {
        name: `Throttled import ${i}`,
      });
      ids.push(String(referral.id));
    }
    // About seven requests per imported referral: 40 per 3 s is met several times before the import ends.
    await control(crmControl, 'PUT', '/limits', { requestsPerWindow: 40, windowMs: 3_000 });

    const run = await d.cli(['backfill', '--direction', 'pc-to-crm'], 120_000);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(`Backfill done: ${REFERRALS} synced, 0 failed.`);

    const limits = await control<{ refused: Record<string, number> }>(crmControl, 'GET', '/limits');
    expect(Object.values(limits.refused).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    const opportunities = await crmSide('dynamics', crmControl).opportunities();
    expect(opportunities.map((o) => o.referralId).sort()).toEqual([...ids].sort());
  });
});
