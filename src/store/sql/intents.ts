// Create intents: a referral about to be created for a CRM record, recorded first so a crash between the create
// and its confirmation adopts the referral instead of creating a second one.
import type { Executor } from '../driver.ts';
import { type IntentRow, toIntent, toLink } from '../rows.ts';
import { type CreateIntent, type CreateIntentInput, type Link, StoreError } from '../store.ts';

import { first, notFound, one, SqlPart } from './part.ts';

export class IntentSql extends SqlPart {
  async pendingIntentRow(x: Executor, linkId: number): Promise<IntentRow | undefined> {
    return await first(
      x,
      this.db
        .selectFrom('create_intents')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('link_id', '=', linkId)
        .where('state', '=', 'pending'),
    );
  }

  private async requireIntent(x: Executor, intentId: number): Promise<IntentRow> {
    const row = await first(
      x,
      this.db
        .selectFrom('create_intents')
        .selectAll()
        .where('tenant_id', '=', this.tenantId)
        .where('id', '=', intentId),
    );
    if (!row) throw notFound('Create intent', intentId);
    return row;
  }

  async recordCreateIntent(intent: CreateIntentInput): Promise<CreateIntent> {
    return toIntent(
      await this.transaction(async (x) => {
        await this.parts.links.requireLink(x, intent.linkId);
        const pending = await this.pendingIntentRow(x, intent.linkId);
        if (pending) return pending;
        const now = this.now();
        return await one(
          x,
          this.db
            .insertInto('create_intents')
            .values({
              tenant_id: this.tenantId,
              link_id: intent.linkId,
              crm_id: intent.crmId,
              external_reference_id: intent.externalReferenceId,
              state: 'pending',
              referral_id: null,
              created_at: now,
              updated_at: now,
            })
            .returningAll(),
        );
      }),
    );
  }

  async pendingCreateIntent(linkId: number): Promise<CreateIntent | null> {
    const row = await this.read((x) => this.pendingIntentRow(x, linkId));
    return row ? toIntent(row) : null;
  }

  async confirmCreateIntent(
    intentId: number,
    referralId: string,
    how: 'confirmed' | 'adopted' = 'confirmed',
  ): Promise<{ intent: CreateIntent; link: Link }> {
    return this.transaction(async (x) => {
      const intent = await this.requireIntent(x, intentId);
      if (intent.state !== 'pending' && !(intent.state === how && intent.referral_id === referralId)) {
        throw new StoreError(
          'invalidArgument',
          `Create intent ${intentId} is ${intent.state}${intent.referral_id ? ` (referral ${intent.referral_id})` : ''}; it cannot be ${how} with referral ${referralId}.`,
          'Record a new create intent before creating another referral.',
        );
      }
      const link = await this.parts.links.attachReferralRow(x, intent.link_id, referralId, null);
      const row = await one(
        x,
        this.db
          .updateTable('create_intents')
          .set({ state: how, referral_id: referralId, link_id: link.id, updated_at: this.now() })
          .where('id', '=', intentId)
          .returningAll(),
      );
      return { intent: toIntent(row), link: toLink(link) };
    });
  }

  async abandonCreateIntent(intentId: number): Promise<CreateIntent> {
    return toIntent(
      await this.transaction(async (x) => {
        const intent = await this.requireIntent(x, intentId);
        if (intent.state !== 'pending') return intent;
        return await one(
          x,
          this.db
            .updateTable('create_intents')
            .set({ state: 'abandoned', updated_at: this.now() })
            .where('id', '=', intentId)
            .returningAll(),
        );
      }),
    );
  }
}
