// What Partner Center refuses beyond the schema, written from the documented behaviour (reference §3 "Deal types
// / co-sell rules", the connector's troubleshooting guide) and deliberately NOT from cosell's own rules in
// src/core: the emulator is the other side of the wire, so a wrong rule in cosell must meet a right one here
// and fail a test, not agree with itself. Messages are Partner Center's own words where documented.
import currencyCodes from 'currency-codes';
import countries from 'i18n-iso-countries';
import { ASSISTANCE_REQUEST_CODES } from '../../src/core/referral.ts';

export interface RuleProblem {
  rule: string;
  /** Dotted path of the field at fault, used as the error `target`. */
  path: string;
  /** What Partner Center answers. */
  message: string;
}

type Json = Record<string, unknown>;

/** Documented wordings (the first three) and ours for the rest, one per rule. */
export const MESSAGES = {
  solution: 'Solution ID is required.',
  contact: 'Customer contact is required when Microsoft help is requested.',
  countryMissing: 'Customer account country code is missing.',
  countryInvalid: 'Customer account country code must be a two-letter ISO 3166 code.',
  currencyMissing: 'Currency is required when a deal value is given.',
  currencyInvalid: 'Currency must be a three-letter ISO 4217 code.',
  visibilityRequired: 'A referral that requests Microsoft help must be shared with Microsoft sellers.',
  visibilityIrreversible: 'A referral shared with Microsoft sellers cannot be made private again.',
  assistanceCode: 'Invalid assistanceRequestCode.',
  qualifyValue: 'Deal value is required to qualify a lead.',
  qualifyDate: 'Closing date is required to qualify a lead.',
} as const;

const ALPHA2 = new Set(Object.keys(countries.getAlpha2Codes()));
const NO_HELP = 'Unknown';

const at = (value: unknown, path: string): unknown =>
  path
    .split('.')
    .reduce<unknown>(
      (node, key) => (node && typeof node === 'object' ? (node as Json)[key] : undefined),
      value,
    );
const text = (value: unknown): string => (typeof value === 'string' ? value.trim() : '');
const list = (value: unknown): Json[] => (Array.isArray(value) ? (value as Json[]) : []);
const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** Help requested from Microsoft = a co-sell referral: `inviteContext.assistanceRequestCode` set (reference §3). */
export function isCoSell(referral: Json): boolean {
  const code = text(at(referral, 'inviteContext.assistanceRequestCode'));
  return code !== '' && code !== NO_HELP;
}

function solutionProblems(r: Json): RuleProblem[] {
  const has = list(at(r, 'details.requirements.solutions')).some((s) => text(s.id) !== '');
  return isCoSell(r) && !has
    ? [{ rule: 'solution', path: 'details.requirements.solutions', message: MESSAGES.solution }]
    : [];
}

function contactProblems(r: Json): RuleProblem[] {
  const has = list(at(r, 'customerProfile.team')).some(
    (m) => text(m.email) !== '' || text(m.firstName) !== '' || text(m.lastName) !== '',
  );
  return isCoSell(r) && !has
    ? [{ rule: 'contact', path: 'customerProfile.team', message: MESSAGES.contact }]
    : [];
}

function countryProblems(r: Json): RuleProblem[] {
  const path = 'customerProfile.address.country';
  const country = text(at(r, path));
  if (country === '') return isCoSell(r) ? [{ rule: 'country', path, message: MESSAGES.countryMissing }] : [];
  return /^[A-Z]{2}$/.test(country) && ALPHA2.has(country)
    ? []
    : [{ rule: 'country', path, message: MESSAGES.countryInvalid }];
}

function currencyProblems(r: Json): RuleProblem[] {
  const path = 'details.currency';
  const currency = text(at(r, path));
  const value = at(r, 'details.dealValue');
  if (currency === '') {
    return value === undefined || value === null || value === ''
      ? []
      : [{ rule: 'currency', path, message: MESSAGES.currencyMissing }];
  }
  return /^[A-Z]{3}$/.test(currency) && currencyCodes.code(currency)
    ? []
    : [{ rule: 'currency', path, message: MESSAGES.currencyInvalid }];
}

function visibilityProblems(r: Json): RuleProblem[] {
  const path = 'consent.consentToShareReferralWithMicrosoftSellers';
  return isCoSell(r) && at(r, path) === false
    ? [{ rule: 'visibility', path, message: MESSAGES.visibilityRequired }]
    : [];
}

function assistanceProblems(r: Json): RuleProblem[] {
  const code = text(at(r, 'inviteContext.assistanceRequestCode'));
  return code === '' || (ASSISTANCE_REQUEST_CODES as readonly string[]).includes(code)
    ? []
    : [{ rule: 'assistance', path: 'inviteContext.assistanceRequestCode', message: MESSAGES.assistanceCode }];
}

/** Every problem that stops Partner Center from creating this referral (co-sell prerequisites, codes). */
export function validateReferralForCreate(referral: Json): RuleProblem[] {
  return [
    ...solutionProblems(referral),
    ...contactProblems(referral),
    ...countryProblems(referral),
    ...currencyProblems(referral),
    ...visibilityProblems(referral),
    ...assistanceProblems(referral),
  ];
}

/** A lead in Partner Center's categories: Independent, qualified by or sent from Microsoft (reference §3). */
function isLead(r: Json): boolean {
  const invitedBy = text(at(r, 'inviteContext.invitedBy.organizationId')).toLowerCase();
  if (r.type !== 'Independent') return false;
  if (r.qualification === 'Direct') return invitedBy === 'msft' || invitedBy === '';
  return (
    (r.qualification === 'SalesQualified' || r.qualification === 'MarketingQualified') && invitedBy === 'msft'
  );
}

/**
 * Problems a change introduces (the transition table and closed referrals are checked by the store): visibility
 * reverted, a co-sell prerequisite removed, a bad code, a lead qualified without revenue or closing date.
 */
export function validateReferralUpdate(before: Json, after: Json): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const visibility = 'consent.consentToShareReferralWithMicrosoftSellers';
  if (at(before, visibility) === true && at(after, visibility) === false) {
    problems.push({ rule: 'visibility', path: visibility, message: MESSAGES.visibilityIrreversible });
  }
  const changed = (path: string) => !same(at(before, path), at(after, path));
  if (changed('details.requirements.solutions')) problems.push(...solutionProblems(after));
  if (changed('customerProfile.team')) problems.push(...contactProblems(after));
  if (changed('details.currency') || changed('details.dealValue')) problems.push(...currencyProblems(after));
  if (isLead(before) && before.status === 'New' && after.status === 'Active') {
    const value = at(after, 'details.dealValue');
    if (value === undefined || value === null || value === '')
      problems.push({ rule: 'qualify', path: 'details.dealValue', message: MESSAGES.qualifyValue });
    if (text(at(after, 'details.closingDateTime')) === '')
      problems.push({ rule: 'qualify', path: 'details.closingDateTime', message: MESSAGES.qualifyDate });
  }
  return problems;
}
