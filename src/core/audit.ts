// Audit lines for the CRM Audit field (R19): one dated line per sync that changed data or the error state,
// newest last, the field kept within its size by dropping the oldest whole lines.

export type SyncDirection = 'PC->CRM' | 'CRM->PC';

export interface AuditLineInput {
  now: Date;
  direction: SyncDirection;
  /** What changed, in a seller's words ('deal value 1000 -> 1200'). */
  changes?: readonly string[];
  /** What failed and how to fix it. */
  error?: { message: string; fix?: string };
}

const oneLine = (text: string) => text.replace(/\s+/g, ' ').trim();

/** '2026-11-20 10:00:00 UTC CRM->PC: deal value, close date' or '... CRM->PC ✖ <message> Fix: <fix>'; a sync
 *  that changed data and still has a problem says both: '... ✖ created from referral X; <message> Fix: <fix>'. */
export function formatAuditLine(input: AuditLineInput): string {
  const stamp = `${input.now.toISOString().slice(0, 19).replace('T', ' ')} UTC ${input.direction}`;
  const changes = (input.changes ?? []).map(oneLine).filter(Boolean);
  if (input.error) {
    const message = oneLine(input.error.message);
    const fix = input.error.fix ? ` Fix: ${oneLine(input.error.fix)}` : '';
    const done = changes.length > 0 ? `${changes.join('; ')}; ` : '';
    return `${stamp} ✖ ${done}${message}${fix}`;
  }
  return `${stamp}: ${changes.length > 0 ? changes.join('; ') : 'synced'}`;
}

/**
 * `existing` with `line` appended, at most `maxLength` characters (Salesforce Audit__c holds 100000):
 * the oldest whole lines are dropped first. A line longer than the whole field is cut, ending in '…'.
 */
export function appendAuditLine(
  existing: string | null | undefined,
  line: string,
  maxLength: number,
): string {
  // One audit entry is one line, whatever the message it quotes contains.
  const flat = line.replace(/\r?\n/g, ' ');
  const newest = flat.length > maxLength ? `${flat.slice(0, Math.max(0, maxLength - 1))}…` : flat;
  const lines = (existing ?? '').split(/\r?\n/).filter((l) => l.trim() !== '');
  let length = newest.length;
  let keep = 0;
  // Walk back from the newest existing line while it still fits with its newline.
  for (let i = lines.length - 1; i >= 0; i--) {
    const next = length + lines[i]!.length + 1;
    if (next > maxLength) break;
    length = next;
    keep++;
  }
  return [...lines.slice(lines.length - keep), newest].join('\n');
}
