// What Partner Center refuses beyond the schema, judged by the same rules the engine checks before it
// calls Microsoft (src/core/cosell-rules.ts), answered in Partner Center's own words
// (`PARTNER_CENTER_MESSAGES`: "Solution ID is required", "Customer account country code is missing", ...).
import {
  type RuleProblem as CoreRuleProblem,
  isCoSell as coreIsCoSell,
  validateReferralForCreate as coreValidateForCreate,
  validateReferralUpdate as coreValidateUpdate,
  PARTNER_CENTER_MESSAGES,
} from '../../src/core/cosell-rules.ts';
import type { Referral } from '../../src/core/referral.ts';

export interface RuleProblem {
  rule: string;
  /** Dotted path of the field at fault, used as the error `target`. */
  path: string;
  /** What Partner Center answers. */
  message: string;
}

type Json = Record<string, unknown>;

/** Only errors stop Partner Center; warnings (create-only edits) are the engine's business. */
const refusals = (problems: CoreRuleProblem[]): RuleProblem[] =>
  problems
    .filter((problem) => problem.severity === 'error')
    .map((problem) => ({
      rule: problem.rule,
      path: problem.path,
      message: `${PARTNER_CENTER_MESSAGES[problem.rule]}.`,
    }));

/** Help requested from Microsoft = a co-sell referral (R11). */
export function isCoSell(referral: Json): boolean {
  return coreIsCoSell(referral as Referral);
}

/** Every problem that stops Partner Center from creating this referral (R11, R12, R14). */
export function validateReferralForCreate(referral: Json): RuleProblem[] {
  return refusals(coreValidateForCreate(referral as Referral));
}

/** Problems a change introduces: visibility reverted, co-sell prerequisites removed, bad values (R12, R14, R17). */
export function validateReferralUpdate(
  before: Json,
  after: Json,
  options: { bySystem?: boolean } = {},
): RuleProblem[] {
  return refusals(
    coreValidateUpdate(before as Referral, after as Referral, { bySystem: options.bySystem ?? false }),
  );
}
