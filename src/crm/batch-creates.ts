// Creates gathered into batches (a bulk import's many workers): what each adapter's `batchCreates` shares.
// The batch call itself is the adapter's; here is who may share a batch.
import { Coalescer } from '../lib/coalescer.ts';
import type { CreateDealResult, NewDeal, SyncWrite } from './port.ts';

export interface CreateItem {
  input: NewDeal;
  sync: SyncWrite;
}

/** What two creates must not share within one batch: the later one would not see what the earlier creates. */
export function createKeys({ input }: CreateItem): string[] {
  const keys = [`referral:${input.referralId.toLowerCase()}`];
  if (input.account && !input.account.id) {
    keys.push(`account:${input.account.name.toLowerCase()}`);
    if (input.account.duns) keys.push(`duns:${input.account.duns}`);
  }
  for (const contact of input.contacts ?? [])
    if (contact.email) keys.push(`email:${contact.email.toLowerCase()}`);
  for (const solution of input.solutions ?? []) keys.push(`solution:${solution.id.toLowerCase()}`);
  return keys;
}

/** Opportunity creates in batches of at most `maxItems`, one batch at a time, never two creates of one thing. */
export function createBatcher(
  run: (items: CreateItem[]) => Promise<(CreateDealResult | Error)[]>,
  options: { maxItems: number; lingerMs: number },
): Coalescer<CreateItem, CreateDealResult> {
  return new Coalescer<CreateItem, CreateDealResult>({
    run,
    ...options,
    fits: (item, batch) => {
      const keys = new Set(batch.flatMap(createKeys));
      return !createKeys(item).some((key) => keys.has(key));
    },
  });
}

/** One create: through the batcher when the adapter batches, else as a batch of its own. */
export async function createThrough(
  batcher: Coalescer<CreateItem, CreateDealResult> | undefined,
  run: (items: CreateItem[]) => Promise<(CreateDealResult | Error)[]>,
  item: CreateItem,
): Promise<CreateDealResult> {
  if (batcher) return batcher.add(item);
  const [outcome] = await run([item]);
  if (outcome instanceof Error) throw outcome;
  if (!outcome) throw new Error('the create returned no outcome');
  return outcome;
}

export const unique = (values: string[]): string[] => [...new Set(values)];
