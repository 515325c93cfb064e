// The co-sell rules (R9, R11, R12, R14, R17) as pure checks that return every problem found.
// The engine runs them before calling Partner Center and writes the messages to the CRM Audit field. The
// Partner Center emulator has its own, independent rules (emulators/partner-center/rules.ts).
import { countryCodeFromName, isCountryCode } from './countries.ts';
import { isCurrencyCode } from './currencies.ts';
import { canonicalJson, normalizeMoney, normalizeText } from './normalize.ts';
import { createOnlyFieldsChanged, PATCHABLE_PATHS } from './patchable.ts';
import { fromJsonPointer, readPath, setPath } from './paths.ts';
import { ASSISTANCE_REQUEST_CODES, type Referral } from './referral.ts';
import { checkStatusPair, checkTransition, isClosed, type StatusPair } from './transitions.ts';

/** Stable ids of every rule; tests, audit lines and the emulator key on them. */
export const RULE_IDS = [
  'solution-required',
  'customer-contact-required',
  'country-code-missing',
  'country-code-invalid',
  'currency-required',
  'currency-invalid',
  'visibility-required',
  'assistance-code-invalid',
  'status-invalid',
  'services-partner-role-required',
  'services-solution-area-required',
  'services-solution-play-required',
  'services-value-unknown',
  'closed-referral-immutable',
  'visibility-irreversible',
  'status-transition-invalid',
  'create-only-field-changed',
  'qualification-deal-value-required',
  'qualification-closing-date-required',
  'deal-value-invalid',
  'closing-date-out-of-range',
  'notes-control-characters',
] as const;
export type RuleId = (typeof RULE_IDS)[number];

/** 'error' stops the write; 'warning' is written as an audit line and the rest of the sync goes on. */
export type Severity = 'error' | 'warning';

export interface RuleProblem {
  rule: RuleId;
  /** Dotted referral path of the offending value ('customerProfile.address.country'). */
  path: string;
  /** For a seller: what is wrong, on which record, what to do. */
  message: string;
  severity: Severity;
}

/**
 * What Partner Center itself answers for each rule (400 `invalidRequest`), for the emulator. The first
 * three are the documented wordings (reference §3, connector troubleshooting guide); the others are ours.
 */
export const PARTNER_CENTER_MESSAGES: Readonly<Record<RuleId, string>> = {
  'solution-required': 'Solution ID is required',
  'customer-contact-required': 'Customer contact is required when Microsoft help is requested',
  'country-code-missing': 'Customer account country code is missing',
  'country-code-invalid': 'Customer account country code must be a two-letter ISO 3166 code',
  'currency-required': 'Currency is required when a deal value is given',
  'currency-invalid': 'Currency must be a three-letter ISO 4217 code',
  'visibility-required': 'A referral that requests Microsoft help must be shared with Microsoft sellers',
  'assistance-code-invalid': 'Invalid assistanceRequestCode',
  'status-invalid': 'Invalid status and substatus combination',
  'services-partner-role-required': 'Partner role is required for Services co-sell referrals',
  'services-solution-area-required': 'Solution area is required for Services co-sell referrals',
  'services-solution-play-required': 'Solution play is required for Services co-sell referrals',
  'services-value-unknown': 'Partner role, solution area or solution play is not a known value',
  'closed-referral-immutable': 'The referral is closed and cannot be updated',
  'visibility-irreversible': 'A referral shared with Microsoft sellers cannot be made private again',
  'status-transition-invalid': 'Invalid status transition',
  'create-only-field-changed': 'The field can only be set when the referral is created',
  'qualification-deal-value-required': 'Deal value is required to qualify a lead',
  'qualification-closing-date-required': 'Closing date is required to qualify a lead',
  // Ours (value-rules.ts): checked before sending, so a typo never reaches Microsoft sellers.
  'deal-value-invalid': 'The deal value is not a plausible amount',
  'closing-date-out-of-range': 'The closing date is out of range',
  'notes-control-characters': 'The notes contain control characters',
};

/** Organisation id Partner Center uses for Microsoft as inviter or target (reference §3). */
export const MICROSOFT_ORGANIZATION_ID = 'msft';

/** "How can Microsoft help?" not set. */
export const NO_ASSISTANCE_REQUEST_CODE = 'Unknown';

// --- Services co-sell ------------------------------------------------------------------------------------

/** Where Partner Center keeps typed requirement values (`{ id, type }` elements). */
export const REQUIREMENT_ATTRIBUTES_PATH = 'details.requirements.additionalRequirements.attributes';

/** Attribute types "required for Services co-sell referrals only" (reference §3; FY26 taxonomy, exact keys
 *  unconfirmed: open question 1). */
export const SERVICES_COSELL_ATTRIBUTE_TYPES = {
  partnerRole: 'PartnerRole',
  solutionArea: 'SolutionArea',
  solutionPlay: 'SolutionPlay',
} as const;
export type ServicesCoSellAttribute = keyof typeof SERVICES_COSELL_ATTRIBUTE_TYPES;

/** How a referral says it is a Services co-sell referral. Partner Center's own marker is not documented,
 *  so we carry this attribute (one place to change once it is known); callers may also pass a flag. */
export const SERVICES_COSELL_MARKER = { type: 'CoSellType', id: 'Services' } as const;

const SERVICES_RULES: ReadonlyArray<{ attribute: ServicesCoSellAttribute; rule: RuleId; label: string }> = [
  { attribute: 'partnerRole', rule: 'services-partner-role-required', label: 'a partner role' },
  { attribute: 'solutionArea', rule: 'services-solution-area-required', label: 'a solution area' },
  { attribute: 'solutionPlay', rule: 'services-solution-play-required', label: 'a solution play' },
];

/** Dotted path of one typed attribute's id, e.g. `…attributes[type=PartnerRole].id`. */
export function requirementAttributePath(type: string): string {
  return `${REQUIREMENT_ATTRIBUTES_PATH}[type=${type}].id`;
}

export function isServicesCoSell(referral: Referral, options: { servicesCoSell?: boolean } = {}): boolean {
  if (options.servicesCoSell !== undefined) return options.servicesCoSell;
  return (
    readPath(referral, requirementAttributePath(SERVICES_COSELL_MARKER.type)) === SERVICES_COSELL_MARKER.id
  );
}

/** The Services co-sell attributes a referral carries. */
export function servicesCoSellAttributes(
  referral: Referral,
): Partial<Record<ServicesCoSellAttribute, string>> {
  const out: Partial<Record<ServicesCoSellAttribute, string>> = {};
  for (const [attribute, type] of Object.entries(SERVICES_COSELL_ATTRIBUTE_TYPES)) {
    const id = normalizeText(readPath(referral, requirementAttributePath(type)));
    if (id) out[attribute as ServicesCoSellAttribute] = id;
  }
  return out;
}

/** A copy of the referral carrying the given Services co-sell attributes (and the marker when `mark`);
 *  null or empty removes one. Other attributes (e.g. CustomerMarketplaceIntent) are kept. */
export function withServicesCoSellAttributes(
  referral: Referral,
  values: Partial<Record<ServicesCoSellAttribute, string | null>>,
  options: { mark?: boolean } = {},
): Referral {
  let out = referral;
  for (const [attribute, value] of Object.entries(values)) {
    const type = SERVICES_COSELL_ATTRIBUTE_TYPES[attribute as ServicesCoSellAttribute];
    out = setPath(out, requirementAttributePath(type), normalizeText(value) ?? undefined);
  }
  if (options.mark !== undefined) {
    const marker = options.mark ? SERVICES_COSELL_MARKER.id : undefined;
    out = setPath(out, requirementAttributePath(SERVICES_COSELL_MARKER.type), marker);
  }
  return out;
}

// --- Categories (R9) -------------------------------------------------------------------------------------

export type ReferralCategory = 'marketplace-lead' | 'qualified-lead' | 'co-sell-opportunity';

/** Partner Center's referral categories (reference §3, referrals-api-introduction). */
export function referralCategory(referral: Referral): ReferralCategory {
  const invitedBy = referral.inviteContext?.invitedBy?.organizationId?.toLowerCase();
  const byMicrosoft = invitedBy === MICROSOFT_ORGANIZATION_ID;
  if (referral.type === 'Independent') {
    if (referral.qualification === 'Direct' && (byMicrosoft || !invitedBy)) return 'marketplace-lead';
    if (
      (referral.qualification === 'SalesQualified' || referral.qualification === 'MarketingQualified') &&
      byMicrosoft
    ) {
      return 'qualified-lead';
    }
  }
  return 'co-sell-opportunity';
}

export function isLead(referral: Referral): boolean {
  return referralCategory(referral) !== 'co-sell-opportunity';
}

/** Help requested: "How can Microsoft help?" is set to something other than Unknown (R11). */
export function isCoSell(referral: Referral): boolean {
  const code = normalizeText(referral.inviteContext?.assistanceRequestCode);
  return code !== null && code !== NO_ASSISTANCE_REQUEST_CODE;
}

// --- Checks ----------------------------------------------------------------------------------------------

const quoted = (text: string | null | undefined, fallback: string) => {
  const t = normalizeText(text);
  return t ? `'${t}'` : fallback;
};
const dealOf = (r: Referral) => `deal ${quoted(r.name, '(unnamed)')}`;
const accountOf = (r: Referral) => `account ${quoted(r.customerProfile?.name, '(unnamed)')}`;

type Check = (referral: Referral, options: RuleOptions) => RuleProblem[];

export interface RuleOptions {
  /** Overrides the Services co-sell marker on the referral (e.g. from a CRM field). */
  servicesCoSell?: boolean;
}

const problem = (rule: RuleId, path: string, message: string, severity: Severity = 'error'): RuleProblem => ({
  rule,
  path,
  message,
  severity,
});

const hasContact = (r: Referral) =>
  (r.customerProfile?.team ?? []).some(
    (m) =>
      normalizeText(m.email) !== null ||
      normalizeText(m.firstName) !== null ||
      normalizeText(m.lastName) !== null,
  );

const hasSolution = (r: Referral) =>
  (r.details?.requirements?.solutions ?? []).some((s) => normalizeText(s.id));

const checkSolutions: Check = (r) =>
  isCoSell(r) && !hasSolution(r)
    ? [
        problem(
          'solution-required',
          'details.requirements.solutions',
          `Solution ID is required: add at least one co-sell-ready or Microsoft solution to ${dealOf(r)}, or clear "How can Microsoft help?".`,
        ),
      ]
    : [];

const checkContact: Check = (r) =>
  isCoSell(r) && !hasContact(r)
    ? [
        problem(
          'customer-contact-required',
          'customerProfile.team',
          `Customer contact is missing: add a customer contact with an email address to ${dealOf(r)} (co-sell with Microsoft help needs one), or clear "How can Microsoft help?".`,
        ),
      ]
    : [];

const checkCountry: Check = (r) => {
  const path = 'customerProfile.address.country';
  const country = normalizeText(r.customerProfile?.address?.country);
  if (country === null) {
    return isCoSell(r)
      ? [
          problem(
            'country-code-missing',
            path,
            `Customer account country code is missing: set a two-letter ISO 3166 code, e.g. US, on ${accountOf(r)}.`,
          ),
        ]
      : [];
  }
  if (isCountryCode(country)) return [];
  const code = countryCodeFromName(country);
  return [
    problem(
      'country-code-invalid',
      path,
      code
        ? `Customer account country code '${country}' is not a two-letter ISO 3166 code: set '${code}' on ${accountOf(r)}.`
        : `Customer account country code '${country}' is not a two-letter ISO 3166 code: set one, e.g. US, on ${accountOf(r)}.`,
    ),
  ];
};

const checkCurrency: Check = (r) => {
  const path = 'details.currency';
  const currency = normalizeText(r.details?.currency);
  if (currency === null) {
    return normalizeMoney(r.details?.dealValue) === null
      ? []
      : [
          problem(
            'currency-required',
            path,
            `Currency is missing for the deal value of ${dealOf(r)}: set a three-letter ISO 4217 currency code, e.g. USD.`,
          ),
        ];
  }
  if (isCurrencyCode(currency)) return [];
  const hint = isCurrencyCode(currency.toUpperCase())
    ? `'${currency.toUpperCase()}'`
    : 'one such as USD or EUR';
  return [
    problem(
      'currency-invalid',
      path,
      `Currency '${currency}' on ${dealOf(r)} is not a three-letter ISO 4217 code: set ${hint}.`,
    ),
  ];
};

const checkVisibility: Check = (r) =>
  isCoSell(r) && r.consent?.consentToShareReferralWithMicrosoftSellers === false
    ? [
        problem(
          'visibility-required',
          'consent.consentToShareReferralWithMicrosoftSellers',
          `${capitalize(dealOf(r))} asks Microsoft for help but is not visible to Microsoft sellers: set Visibility to visible, or clear "How can Microsoft help?".`,
        ),
      ]
    : [];

const checkAssistanceCode: Check = (r) => {
  const code = normalizeText(r.inviteContext?.assistanceRequestCode);
  if (code === null || (ASSISTANCE_REQUEST_CODES as readonly string[]).includes(code)) return [];
  return [
    problem(
      'assistance-code-invalid',
      'inviteContext.assistanceRequestCode',
      `"How can Microsoft help?" value '${code}' on ${dealOf(r)} is not one Partner Center knows: pick one of ${ASSISTANCE_REQUEST_CODES.filter((c) => c !== NO_ASSISTANCE_REQUEST_CODE).join(', ')}.`,
    ),
  ];
};

const checkStatus: Check = (r) => {
  if (!r.status || !r.substatus) return [];
  const verdict = checkStatusPair({ status: r.status, substatus: r.substatus });
  return verdict.allowed
    ? []
    : [problem('status-invalid', 'substatus', `${capitalize(dealOf(r))}: ${verdict.reason}`)];
};

const checkServices: Check = (r, options) => {
  if (!isCoSell(r) || !isServicesCoSell(r, options)) return [];
  const carried = servicesCoSellAttributes(r);
  return SERVICES_RULES.filter(({ attribute }) => !carried[attribute]).map(({ attribute, rule, label }) =>
    problem(
      rule,
      requirementAttributePath(SERVICES_COSELL_ATTRIBUTE_TYPES[attribute]),
      `Services co-sell ${dealOf(r)} needs ${label}: set it on the deal before sharing it with Microsoft.`,
    ),
  );
};

/** Checks run on every referral we are about to create (R11, R12). */
const CREATE_CHECKS: readonly Check[] = [
  checkSolutions,
  checkContact,
  checkCountry,
  checkCurrency,
  checkVisibility,
  checkAssistanceCode,
  checkServices,
  checkStatus,
];

/** Every problem that would make Partner Center refuse (or mis-file) this referral on create. */
export function validateReferralForCreate(referral: Referral, options: RuleOptions = {}): RuleProblem[] {
  return CREATE_CHECKS.flatMap((check) => check(referral, options));
}

/** Qualifying a lead needs revenue and a closing date (R9). */
export function validateLeadQualification(referral: Referral): RuleProblem[] {
  const problems: RuleProblem[] = [];
  if (normalizeMoney(referral.details?.dealValue) === null) {
    problems.push(
      problem(
        'qualification-deal-value-required',
        'details.dealValue',
        `Qualifying lead ${quoted(referral.name, '(unnamed)')} needs a deal value: set the estimated revenue, then qualify again.`,
      ),
    );
  }
  if (!normalizeText(referral.details?.closingDateTime)) {
    problems.push(
      problem(
        'qualification-closing-date-required',
        'details.closingDateTime',
        `Qualifying lead ${quoted(referral.name, '(unnamed)')} needs a closing date: set the estimated close date, then qualify again.`,
      ),
    );
  }
  return problems;
}

export interface UpdateOptions extends RuleOptions {
  /** A system move (Partner Center expiring a referral); only then is Expired allowed. */
  bySystem?: boolean;
  /** The seller is qualifying a lead. Default: a lead moving from New to Active. */
  qualifying?: boolean;
}

/** Patchable fields as dotted paths (the `/-` append forms name the same lists). */
const PATCHABLE_FIELDS: readonly string[] = [
  ...new Set(PATCHABLE_PATHS.map((p) => fromJsonPointer(p.replace(/\/-$/, '')))),
];

/** Patchable fields `after` sets to something other than `before` has. Undefined in `after` = untouched. */
function changedPatchableFields(before: Referral, after: Referral): string[] {
  return PATCHABLE_FIELDS.filter((path) => {
    const next = readPath(after, path);
    return next !== undefined && canonicalJson(next) !== canonicalJson(readPath(before, path));
  });
}

/**
 * Every problem with moving a referral from `before` (what Partner Center has) to `after` (what we would
 * send). Create-only changes come back as warnings: the engine writes an audit line and syncs the rest.
 */
export function validateReferralUpdate(
  before: Referral,
  after: Referral,
  options: UpdateOptions = {},
): RuleProblem[] {
  const createOnly = createOnlyFieldsChanged(before, after);
  const changed = changedPatchableFields(before, after);

  if (isClosed(before.status)) {
    const names = [...changed, ...createOnly.map((c) => c.path)];
    if (names.length === 0) return [];
    return [
      problem(
        'closed-referral-immutable',
        names[0]!,
        `Referral ${quoted(before.name, '(unnamed)')} is closed (${before.status}/${before.substatus ?? 'None'}) and accepts no further changes: ${names.join(', ')} not sent to Partner Center. Start a new deal for new business with this customer.`,
      ),
    ];
  }

  const problems: RuleProblem[] = [];
  const visibilityPath = 'consent.consentToShareReferralWithMicrosoftSellers';
  if (
    before.consent?.consentToShareReferralWithMicrosoftSellers === true &&
    after.consent?.consentToShareReferralWithMicrosoftSellers === false
  ) {
    problems.push(
      problem(
        'visibility-irreversible',
        visibilityPath,
        `${capitalize(dealOf(before))} is already visible to Microsoft sellers and cannot be made private again: set Visibility back to visible.`,
      ),
    );
  }

  const from = statusPair(before);
  const to = statusPair({ ...before, ...pick(after, ['status', 'substatus']) });
  if (from && to) {
    const verdict = checkTransition(from, to, { bySystem: options.bySystem ?? false });
    if (!verdict.allowed) {
      problems.push(
        problem(
          'status-transition-invalid',
          'status',
          `Status change of ${dealOf(before)} from ${from.status}/${from.substatus} to ${to.status}/${to.substatus} refused: ${verdict.reason}`,
        ),
      );
    }
  }

  const merged = mergeDefined(before, after);
  if (changed.includes('details.currency') || changed.includes('details.dealValue')) {
    problems.push(...checkCurrency(merged, options));
  }
  if (changed.includes('details.requirements.solutions')) problems.push(...checkSolutions(merged, options));
  if (changed.includes('customerProfile.team')) problems.push(...checkContact(merged, options));

  const qualifying =
    options.qualifying ?? (isLead(before) && from?.status === 'New' && to?.status === 'Active');
  if (qualifying) problems.push(...validateLeadQualification(merged));

  for (const change of createOnly) {
    problems.push(
      problem(
        'create-only-field-changed',
        change.path,
        `The ${change.label} of ${dealOf(before)} changed in the CRM, but Partner Center only accepts it when the referral is created: the referral keeps ${describeValue(change.before)}. Create a new deal if it must change.`,
        'warning',
      ),
    );
  }
  return problems;
}

function statusPair(r: Pick<Referral, 'status' | 'substatus'>): StatusPair | undefined {
  return r.status && r.substatus ? { status: r.status, substatus: r.substatus } : undefined;
}

function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Partial<T> {
  const out: Partial<T> = {};
  for (const key of keys) if (value[key] !== undefined && value[key] !== null) out[key] = value[key];
  return out;
}

/** `before` with every path `after` defines applied: the referral as Partner Center would hold it. */
function mergeDefined(before: Referral, after: Referral): Referral {
  let merged = before;
  for (const path of PATCHABLE_FIELDS) {
    const next = readPath(after, path);
    if (next !== undefined) merged = setPath(merged, path, next);
  }
  return merged;
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'no value';
  if (typeof value === 'string') return `'${value}'`;
  return 'its original value';
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
