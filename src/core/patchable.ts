// What Partner Center lets a partner change after a referral exists (reference/partner-center.md §2).
// PATCH accepts a JSON Patch subset on an enumerated list of paths; everything a partner can set on create
// but that no path reaches is create-only (R11), and later CRM edits to it get an audit line instead of a
// silent drop.
import { canonicalJson, stripStatusMarks } from './normalize.ts';
import { fromJsonPointer, readPath, toJsonPointer } from './paths.ts';

/** JSON Patch operations Partner Center supports [C PR patch-a-referral]. */
export const PATCH_OPS = ['replace', 'add'] as const;
export type PatchOpName = (typeof PATCH_OPS)[number];

/** The connector Swagger's enum of patchable paths, verbatim [C SW]. `/-` appends to a list. */
export const PATCHABLE_PATHS = [
  '/campaignId',
  '/consent/consentToShareReferralWithMicrosoftSellers',
  '/customerProfile/team',
  '/customerProfile/team/-',
  '/details/closingDateTime',
  '/details/currency',
  '/details/dealValue',
  '/details/notes',
  '/details/requirements/solutions',
  '/details/requirements/solutions/-',
  '/externalReferenceId',
  '/referralProgram',
  '/salesStage',
  '/status',
  '/substatus',
  '/statusReason',
  '/team',
  '/team/-',
] as const;
export type PatchablePath = (typeof PATCHABLE_PATHS)[number];

/** Deal registration (AzureIPCoSell) paths, a separate connector operation on the same PATCH [C SW].
 *  Only accepted by `checkPatch` when asked to: a sync never registers deals. */
export const REGISTRATION_PATCH_PATHS: readonly RegExp[] = [
  /^\/registrations\/-$/,
  /^\/registrations\/\d+\/contract\/(startDateTime|endDateTime|signDateTime|term|value)$/,
  /^\/registrations\/\d+\/solutionDetails\/\d+\/(value|currency|isDeployedOnAzure|primaryDeploymentOn|pricingModel)$/,
  /^\/registrations\/\d+\/solutionDetails\/\d+\/marketplaceTransactionDetails\/(isMarketplaceTransacted|marketplaceTransactionDateTime)$/,
];

export interface CreateOnlyField {
  /** Dotted referral path. */
  path: string;
  /** What a seller calls it. */
  label: string;
}

/** Fields a partner sets on create that no patchable path reaches. Server-set fields (id, dates, eTag,
 *  links, direction, ...) are read-only, not create-only, and are not listed. */
export const CREATE_ONLY_FIELDS: readonly CreateOnlyField[] = [
  { path: 'name', label: 'referral name' },
  { path: 'type', label: 'referral type' },
  { path: 'qualification', label: 'qualification' },
  { path: 'engagementId', label: 'engagement' },
  { path: 'customerProfile.name', label: 'customer name' },
  { path: 'customerProfile.size', label: 'customer size' },
  { path: 'customerProfile.address', label: 'customer address' },
  { path: 'customerProfile.ids', label: 'customer DUNS / external ids' },
  { path: 'consent.consentToContact', label: 'consent to contact' },
  { path: 'consent.consentToToShareInfoWithOthers', label: 'consent to share information with others' },
  {
    path: 'consent.consentToMicrosoftToContactSpecificPartners',
    label: 'consent for Microsoft to contact specific partners',
  },
  { path: 'details.customerAction', label: 'customer action' },
  { path: 'details.customerRequestedContact', label: 'customer requested contact' },
  { path: 'details.requirements.industries', label: 'industries' },
  { path: 'details.requirements.products', label: 'products' },
  { path: 'details.requirements.services', label: 'services' },
  { path: 'details.requirements.offers', label: 'offers' },
  {
    path: 'details.requirements.additionalRequirements',
    label: 'additional requirements (incl. partner role, solution area, solution play)',
  },
  { path: 'inviteContext', label: 'How can Microsoft help? and the invitation notes' },
  { path: 'target', label: 'target' },
];

const PATCHABLE_SET: ReadonlySet<string> = new Set(PATCHABLE_PATHS);

/** True for a path in the connector's list, exactly ('/details/dealValue', '/team/-'). */
export function isPatchablePath(path: string): path is PatchablePath {
  return PATCHABLE_SET.has(path);
}

/** The create-only field that holds a dotted path or JSON pointer, if any ('/customerProfile/address/city'
 *  -> customer address). */
export function createOnlyFieldOf(pathOrPointer: string): CreateOnlyField | undefined {
  const dotted = pathOrPointer.startsWith('/') ? fromJsonPointer(pathOrPointer) : pathOrPointer;
  return CREATE_ONLY_FIELDS.find((f) => dotted === f.path || dotted.startsWith(`${f.path}.`));
}

export interface PatchOperation {
  op: PatchOpName;
  path: string;
  value?: unknown;
}

export type PatchRule = 'patch-shape' | 'patch-op' | 'patch-path' | 'patch-value';

export interface PatchProblem {
  rule: PatchRule;
  /** Index of the operation in the patch. */
  index: number;
  /** The operation's path as sent ('' when missing). */
  path: string;
  message: string;
}

/** Every problem in a JSON Patch document, judged by Partner Center's rules. Empty when it may be sent. */
export function checkPatch(ops: unknown, options: { allowRegistrations?: boolean } = {}): PatchProblem[] {
  if (!Array.isArray(ops)) {
    return [
      { rule: 'patch-shape', index: -1, path: '', message: 'A JSON Patch must be an array of operations.' },
    ];
  }
  const problems: PatchProblem[] = [];
  ops.forEach((raw: unknown, index) => {
    const op = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
    const path = typeof op['path'] === 'string' ? op['path'] : '';
    const problem = (rule: PatchRule, message: string) => problems.push({ rule, index, path, message });
    if (typeof op['path'] !== 'string' || typeof op['op'] !== 'string') {
      problem('patch-shape', `Operation ${index} needs an "op" and a "path" string.`);
      return;
    }
    if (!(PATCH_OPS as readonly string[]).includes(op['op'])) {
      problem(
        'patch-op',
        `Operation ${index} uses op '${op['op']}': Partner Center only accepts ${PATCH_OPS.join(' and ')}.`,
      );
    }
    const registration = options.allowRegistrations && REGISTRATION_PATCH_PATHS.some((re) => re.test(path));
    if (!isPatchablePath(path) && !registration) {
      const createOnly = createOnlyFieldOf(path);
      problem(
        'patch-path',
        createOnly
          ? `Path '${path}' cannot be patched: the ${createOnly.label} is create-only in Partner Center (it can only be set when the referral is created).`
          : `Path '${path}' cannot be patched: Partner Center accepts only ${PATCHABLE_PATHS.join(', ')}.`,
      );
    }
    if (path.endsWith('/-') && op['op'] !== 'add') {
      problem('patch-op', `Path '${path}' appends to a list: use op 'add', not '${op['op']}'.`);
    }
    if (!('value' in op)) problem('patch-value', `Operation ${index} on '${path}' has no "value".`);
  });
  return problems;
}

export interface CreateOnlyChange extends CreateOnlyField {
  before: unknown;
  after: unknown;
}

/**
 * Create-only fields whose value in `after` differs from `before` (R11 audit lines). A field `after` does
 * not carry (undefined) is not a change: a desired state built from the CRM says nothing about it.
 * Strings compare after trimming and, for the name, without ✔/✖ marks; null and absent are alike.
 */
export function createOnlyFieldsChanged(before: unknown, after: unknown): CreateOnlyChange[] {
  const changes: CreateOnlyChange[] = [];
  for (const field of CREATE_ONLY_FIELDS) {
    const next = readPath(after, field.path);
    if (next === undefined) continue;
    const previous = readPath(before, field.path);
    const canon = (v: unknown) =>
      canonicalJson(field.path === 'name' && typeof v === 'string' ? stripStatusMarks(v) : v);
    if (canon(previous) !== canon(next)) changes.push({ ...field, before: previous, after: next });
  }
  return changes;
}

/** The JSON pointer of a dotted path, when Partner Center lets it be patched. */
export function patchablePointerOf(path: string): PatchablePath | undefined {
  const pointer = toJsonPointer(path);
  return isPatchablePath(pointer) ? pointer : undefined;
}
