// R11: Services co-sell referrals need a partner role, a solution area and a solution play. Microsoft renames the
// areas and plays every fiscal year, so the lists are versioned data (src/partner-center/services-taxonomy/),
// replaceable in config, and a deal's values are checked against them before Partner Center sees them. Pure.
import { z } from 'zod';
import fy26 from '../partner-center/services-taxonomy/fy26.json' with { type: 'json' };
import { normalizeText } from './normalize.ts';

export const servicesTaxonomySchema = z.object({
  /** Microsoft's fiscal year of the lists, e.g. FY26. */
  version: z.string().min(1),
  validFrom: z.iso.date().optional(),
  source: z.string().optional(),
  /** False while the values are not confirmed against Partner Center's own form. */
  verified: z.boolean().default(true),
  partnerRoles: z.array(z.string().min(1)).min(1),
  solutionAreas: z
    .array(z.object({ name: z.string().min(1), plays: z.array(z.string().min(1)).min(1) }))
    .min(1),
});
export type ServicesTaxonomy = z.infer<typeof servicesTaxonomySchema>;

/** The shipped lists, newest first. */
export const SHIPPED_TAXONOMIES: readonly ServicesTaxonomy[] = [servicesTaxonomySchema.parse(fy26)];
export const DEFAULT_TAXONOMY: ServicesTaxonomy = SHIPPED_TAXONOMIES[0]!;

export interface ServicesValues {
  partnerRole?: string | null | undefined;
  solutionArea?: string | null | undefined;
  solutionPlay?: string | null | undefined;
}

export type ServicesField = keyof ServicesValues;

const LABELS: Record<ServicesField, string> = {
  partnerRole: 'Partner role',
  solutionArea: 'Solution area',
  solutionPlay: 'Solution play',
};

export interface TaxonomyProblem {
  field: ServicesField;
  message: string;
}

/** True when the deal asks for Services co-sell: a seller filled any of the three. */
export function asksForServicesCoSell(values: ServicesValues): boolean {
  return (Object.keys(LABELS) as ServicesField[]).some((f) => normalizeText(values[f]) !== null);
}

const find = (list: readonly string[], value: string) =>
  list.find((entry) => entry.toLowerCase() === value.toLowerCase());

/**
 * The values as the taxonomy spells them, and every problem: a missing value, one the taxonomy does not know,
 * a play of another area. Messages list what is allowed and name the taxonomy version.
 */
export function resolveServicesValues(
  values: ServicesValues,
  taxonomy: ServicesTaxonomy,
): { values: Required<{ [K in ServicesField]: string | null }>; problems: TaxonomyProblem[] } {
  const problems: TaxonomyProblem[] = [];
  const of = `Microsoft's ${taxonomy.version} list`;
  const pick = (field: ServicesField, allowed: readonly string[], context = ''): string | null => {
    const raw = normalizeText(values[field]);
    if (raw === null) {
      problems.push({
        field,
        message: `${LABELS[field]} is required for Services co-sell${context}: pick one of ${allowed.join(', ')}.`,
      });
      return null;
    }
    const known = find(allowed, raw);
    if (!known) {
      problems.push({
        field,
        message: `${LABELS[field]} '${raw}' is not in ${of}${context}: pick one of ${allowed.join(', ')} (or update engine.servicesTaxonomy in the config when Microsoft renamed it).`,
      });
    }
    return known ?? null;
  };
  const partnerRole = pick('partnerRole', taxonomy.partnerRoles);
  const solutionArea = pick(
    'solutionArea',
    taxonomy.solutionAreas.map((a) => a.name),
  );
  const area = solutionArea ? taxonomy.solutionAreas.find((a) => a.name === solutionArea) : undefined;
  const plays = area ? area.plays : taxonomy.solutionAreas.flatMap((a) => a.plays);
  const solutionPlay = pick('solutionPlay', plays, area ? ` in ${area.name}` : '');
  return { values: { partnerRole, solutionArea, solutionPlay }, problems };
}
