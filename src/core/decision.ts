// R8: a seller answers an incoming referral either by moving the deal out of the on-hold stage (the default)
// or, where an org prefers, by a field of the opportunity (a picklist such as "Co-sell decision"). The field,
// and the values that mean accept and decline, are configured per CRM; everything else is the same.
import { z } from 'zod';

const answerValue = z.union([z.string().min(1), z.number(), z.boolean()]);

export const decisionFieldSchema = z
  .object({
    /** The opportunity field's API / logical name (not its label). */
    field: z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'must be a field API / logical name, not a label'),
    /** The stored value that accepts the referral (a picklist value, a choice's number, true). */
    accept: answerValue,
    /** The stored value that declines it. */
    decline: answerValue,
  })
  .refine((d) => d.accept !== d.decline, {
    message: 'accept and decline must be different values',
    path: ['decline'],
  });
export type DecisionField = z.infer<typeof decisionFieldSchema>;

export type Decision = 'accept' | 'decline';

/** The seller's answer a stored field value stands for; null for anything else (not answered yet). */
export function decisionOf(value: unknown, field: DecisionField | null): Decision | null {
  if (!field || value === null || value === undefined) return null;
  if (value === field.accept) return 'accept';
  if (value === field.decline) return 'decline';
  return null;
}
