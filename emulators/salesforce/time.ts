/** Salesforce datetime wire format: `2026-11-20T22:53:56.000+0000` (always UTC in responses). */
export function formatDateTime(date: Date): string {
  return date.toISOString().replace('Z', '+0000');
}

/** CreatedDate, LastModifiedDate and SystemModstamp: Salesforce keeps them to the second (`…:56.000+0000`), so
 *  two saves of a record in the same second carry the same stamp. */
export function systemStamp(date: Date): string {
  return formatDateTime(new Date(Math.floor(date.getTime() / 1000) * 1000));
}

export function formatDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Parses the datetime forms Salesforce accepts (`Z`, `+0000`, `+00:00`, optional millis); NaN when invalid. */
export function parseDateTime(value: string): number {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?)(Z|[+-]\d{2}:?\d{2})?$/.exec(
    value.trim(),
  );
  if (!match) return Number.NaN;
  const zone = match[2] ?? 'Z';
  const normalisedZone = zone === 'Z' ? 'Z' : `${zone.slice(0, 3)}:${zone.slice(-2)}`;
  return Date.parse(`${match[1]}${normalisedZone}`);
}

export function isValidDate(value: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
  const parsed = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && formatDate(parsed) === value;
}
