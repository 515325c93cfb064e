// Which version of which CRM record a sync read, in the form the change feed lists it: the row version where the
// CRM has one (Dataverse), else its change stamp (Salesforce SystemModstamp, which two records can share). Kept in
// the snapshot, so a change the feed lists again (its overlap window, or everything recent after a restart) costs
// no job once synced.

interface Versioned {
  id: string;
  version?: string | null;
  modifiedAt?: string | null;
}

export function crmVersionOf(record: Versioned): string | null {
  const version = record.version ?? record.modifiedAt;
  return version ? `${record.id}@${version}` : null;
}
