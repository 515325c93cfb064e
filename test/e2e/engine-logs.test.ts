// What an operator finds in the logs: every sync line names the referral, the CRM record and its name, the
// direction, the outcome and a message (and the fix when it failed), not an internal link id alone.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../helpers/until.ts';
import { CRMS, type Harness, startHarness } from './engine-harness.ts';

interface Line {
  event?: string;
  msg?: string;
  [key: string]: unknown;
}

describe.each(CRMS)('$crm: sync log lines', ({ crm }) => {
  let h: Harness;
  const lines: Line[] = [];

  beforeAll(async () => {
    h = await startHarness(undefined, { crm });
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const text of chunk.toString().split('\n').filter(Boolean))
            lines.push(JSON.parse(text) as Line);
          done();
        },
      }),
    );
    const { engine } = await h.newEngine({ logger });
    await engine.start();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('R19 R20 R25 a sync line carries the referral id, the CRM record id and name, direction, outcome and message; a refused one says why', async () => {
    const { opportunityId } = await h.desk.opportunity({});
    const created = (await until(
      () => lines.find((l) => l.event === 'sync' && l.crmId === opportunityId && l.outcome === 'changed'),
      10_000,
      'the sync line of the new referral',
    )) as Line;
    expect(created).toMatchObject({
      crm,
      crmId: opportunityId,
      referralId: expect.any(String),
      name: expect.stringMatching(/^Northwind migration \d+$/),
      direction: 'toReferral',
      msg: expect.stringMatching(/dealValue.* written to Partner Center$/),
    });
    expect(created.msg).not.toMatch(/partnerRole/);

    const refused = await h.desk.opportunity({ contact: false });
    const failed = (await until(
      () => lines.find((l) => l.event === 'sync-failed' && l.crmId === refused.opportunityId),
      10_000,
      'the failed sync line',
    )) as Line;
    expect(failed).toMatchObject({
      crm,
      crmId: refused.opportunityId,
      referralId: null,
      name: expect.stringMatching(/^Northwind migration \d+$/),
      outcome: 'failed',
      msg: expect.stringMatching(/contact/i),
    });
  });
});
