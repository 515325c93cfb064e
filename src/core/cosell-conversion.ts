// R11: a non co-sell referral becomes co-sell when the seller selects "How can Microsoft help?" later. Partner
// Center has no patchable path for `inviteContext`, so the documented shared-engagement flow does it: the
// partner's referral is shared with Microsoft sellers (a patchable consent), then a second referral targeting
// Microsoft joins the same engagement and carries the help request. Pure: the engine does the calls.
import {
  isCoSell,
  MICROSOFT_ORGANIZATION_ID,
  type RuleProblem,
  validateReferralForCreate,
} from './cosell-rules.ts';
import { ASSISTANCE_REQUEST_CODES, type AssistanceCode, type Referral } from './referral.ts';
import { isClosed } from './transitions.ts';

/** The consent a Microsoft invitation needs on the partner's referral. */
export const SHARE_WITH_MICROSOFT_POINTER = '/consent/consentToShareReferralWithMicrosoftSellers';

const isHelpCode = (code: unknown): code is AssistanceCode =>
  typeof code === 'string' &&
  code !== 'Unknown' &&
  (ASSISTANCE_REQUEST_CODES as readonly string[]).includes(code);

/**
 * The help a seller newly asked for on a linked referral that is not co-sell yet, or null when the edit is not a
 * conversion (help cleared, the referral already co-sell, closed, or sent to us by someone else).
 */
export function coSellConversionRequest(referral: Referral, requested: unknown): AssistanceCode | null {
  if (!isHelpCode(requested)) return null;
  if (referral.direction !== 'Outgoing' || isCoSell(referral) || isClosed(referral.status)) return null;
  return requested;
}

/**
 * The Microsoft-targeted referral that invites Microsoft sellers into `referral`'s engagement: the partner's
 * referral as it will be after this sync's patch (`desired`), shared, with the help requested.
 */
export function microsoftInvitationFor(desired: Referral, help: AssistanceCode): Referral {
  const invitation: Referral = {
    name: desired.name ?? null,
    engagementId: desired.engagementId ?? null,
    type: 'Shared',
    qualification: desired.qualification ?? 'SalesQualified',
    customerProfile: structuredClone(desired.customerProfile ?? {}),
    consent: { ...(desired.consent ?? {}), consentToShareReferralWithMicrosoftSellers: true },
    details: structuredClone(desired.details ?? {}),
    inviteContext: { assistanceRequestCode: help },
    target: [{ type: 'BusinessProfileLocation', id: MICROSOFT_ORGANIZATION_ID }],
  };
  return invitation;
}

/** What stands between the referral and co-sell (R12 prerequisites), in the seller's words. */
export function coSellConversionProblems(invitation: Referral): RuleProblem[] {
  return validateReferralForCreate(invitation).map((p) => ({
    ...p,
    message: `To make this referral co-sell: ${p.message}`,
  }));
}
