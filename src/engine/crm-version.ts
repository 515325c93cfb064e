// Which version of which CRM record a sync read, in the form the change feed lists it: the row version where the
// CRM has one (Dataverse), else its change stamp (Salesforce SystemModstamp, which two records can share). Kept in
// the snapshot, so a change the feed lists again (its overlap window, or everything recent after a restart) costs
// no job once synced.
//
// A change stamp is a time, and Salesforce keeps those to the second (`…:56.000+0000`): two saves of one record
// in the same second carry the same stamp. So a stamp names a version only when it was seen after its second was
// over (plus a margin for the clocks of cosell and the CRM): seen earlier, a second save in that second would look
// already synced and be lost. Such a change is listed again by the next poll's overlap, and read once more then.

interface Versioned {
  id: string;
  version?: string | null;
  modifiedAt?: string | null;
}

/** The stamp's second, and then this much more, must have passed before a stamp names one version. */
export const STAMP_SETTLE_MS = 1_500;

/** `seenAt`: when the record was read (or listed), by cosell's clock; without it the stamp is taken as it is. */
export function crmVersionOf(record: Versioned, seenAt?: Date): string | null {
  if (record.version) return `${record.id}@${record.version}`;
  if (!record.modifiedAt) return null;
  if (seenAt && !stampSettled(record.modifiedAt, seenAt)) return null;
  return `${record.id}@${record.modifiedAt}`;
}

/** Every save stamped `stamp` had happened by `at` (a stamp that is not a time never settles). */
export function stampSettled(stamp: string, at: Date): boolean {
  const time = Date.parse(stamp);
  return Number.isFinite(time) && at.getTime() >= time + STAMP_SETTLE_MS;
}
