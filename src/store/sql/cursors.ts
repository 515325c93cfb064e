// Cursors (feed positions, shared budgets and leases) and encrypted secrets: named values per tenant.
import { first, SqlPart } from './part.ts';

export class CursorSql extends SqlPart {
  private cursorValue(name: string) {
    return this.db
      .selectFrom('cursors')
      .select('value')
      .where('tenant_id', '=', this.tenantId)
      .where('name', '=', name);
  }

  async getCursor(name: string): Promise<string | null> {
    return (await this.first(this.cursorValue(name)))?.value ?? null;
  }

  /** Inserts or replaces one cursor's value. */
  private writeCursor(name: string, value: string, now: string) {
    return this.db
      .insertInto('cursors')
      .values({ tenant_id: this.tenantId, name, value, updated_at: now })
      .onConflict((oc) => oc.columns(['tenant_id', 'name']).doUpdateSet({ value, updated_at: now }));
  }

  async setCursor(name: string, value: string): Promise<void> {
    const now = this.now();
    await this.transaction(async (x) => await x.run(this.writeCursor(name, value, now)));
  }

  async updateCursor(
    name: string,
    update: (current: string | null) => string | null,
  ): Promise<string | null> {
    const now = this.now();
    return await this.transaction(async (x) => {
      const current = (await first(x, this.cursorValue(name)))?.value ?? null;
      const next = update(current);
      if (next === null || next === current) return current;
      await x.run(this.writeCursor(name, next, now));
      return next;
    });
  }

  async getSecret(name: string): Promise<string | null> {
    const row = await this.first(
      this.db
        .selectFrom('secrets')
        .select('ciphertext')
        .where('tenant_id', '=', this.tenantId)
        .where('name', '=', name),
    );
    return row?.ciphertext ?? null;
  }

  async setSecret(name: string, ciphertext: string): Promise<void> {
    const now = this.now();
    await this.transaction(
      async (x) =>
        await x.run(
          this.db
            .insertInto('secrets')
            .values({ tenant_id: this.tenantId, name, ciphertext, updated_at: now })
            .onConflict((oc) =>
              oc.columns(['tenant_id', 'name']).doUpdateSet({ ciphertext, updated_at: now }),
            ),
        ),
    );
  }

  async deleteSecret(name: string): Promise<void> {
    await this.transaction(
      async (x) =>
        await x.run(
          this.db.deleteFrom('secrets').where('tenant_id', '=', this.tenantId).where('name', '=', name),
        ),
    );
  }
}
