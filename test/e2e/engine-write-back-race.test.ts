// Found by `npm run reliability` on Dynamics 365: a Microsoft edit of the deal value that lands between cosell
// creating the CRM record and writing the record's id back to the referral (or a crash right there) was lost.
// The write-back's 412 re-ran the sync with no snapshot, so both sides "had a value" and the deal value's owner,
// the CRM, won: the old value went back to Partner Center over Microsoft's edit. Now the snapshot is recorded as
// soon as the record exists, so the re-run sees Microsoft's edit as the change it is.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deal } from '../../src/core/deal.ts';
import type { PatchOperation } from '../../src/core/patchable.ts';
import { ReferralsClient, type UpdateOptions } from '../../src/partner-center/referrals.ts';
import { until } from '../helpers/until.ts';
import { CRMS, type Harness, pcControl, startHarness } from './engine-harness.ts';

describe.each(CRMS)('$crm: a Microsoft edit during the first sync', ({ crm }) => {
  let h: Harness;

  beforeAll(async () => {
    // The harness's own engine stays stopped: the one under test writes back through the client below.
    h = await startHarness(undefined, { crm });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('R4 R6 R25 a deal value Microsoft changes while cosell writes the record id back reaches the CRM, and Partner Center keeps it; the log says the referral was read again', async () => {
    const pc = pcControl(h);
    let edited = false;
    /** Partner Center as a Microsoft seller edits it right before cosell's write-back lands (its 412). */
    class RacingReferralsClient extends ReferralsClient {
      override async update(id: string, operations: PatchOperation[], options: UpdateOptions = {}) {
        if (!edited && operations.some((op) => op.path === '/externalReferenceId')) {
          edited = true;
          await pc.editAsMicrosoft(id, { details: { dealValue: 300_000 } });
        }
        return super.update(id, operations, options);
      }
    }
    const referrals = new RacingReferralsClient({ baseUrl: h.pc.info.referrals, tokens: h.tokens });
    const lines: { event?: string; referralId?: string; msg?: string }[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const text of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(text));
          done();
        },
      }),
    );
    const { engine } = await h.newEngine({
      logger,
      referrals,
      settings: { worker: { concurrency: 1, leaseMs: 5_000, pollIntervalMs: 50 } },
    });
    const referral = await pc.sendIncoming({ name: 'Raced at write-back', details: { dealValue: 50_000 } });
    const id = String(referral.id);
    await engine.start();
    try {
      const deal = (await until(
        async () => {
          const d = await h.crm.findDeal({ kind: 'opportunity', referralId: id });
          return d?.value === 300_000 ? d : null;
        },
        10_000,
        "Microsoft's deal value on the CRM record",
      )) as Deal;
      expect(edited).toBe(true);
      const after = await pc.referral(id);
      expect(Number(after.details?.dealValue)).toBe(300_000);
      expect(after.externalReferenceId).toBe(deal.id);
      expect(lines.find((l) => l.event === 'sync-reread')).toMatchObject({
        referralId: id,
        msg: expect.stringContaining('changed while cosell wrote it (HTTP 412)'),
      });
    } finally {
      await engine.stop();
    }
  });
});
