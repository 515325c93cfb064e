// The optional JSON state file (`--data file`): read once at start, rewritten after every change.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isRecord } from './http.ts';

export interface PersistedState {
  version: 1;
  referrals: unknown[];
  auth: unknown;
  webhooks: unknown;
}

export function readState(file: string): PersistedState | undefined {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  if (text.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `Partner Center emulator data file ${file} is not valid JSON (${(error as Error).message}): fix or delete it.`,
    );
  }
  if (!isRecord(parsed) || !Array.isArray(parsed.referrals)) {
    throw new Error(
      `Partner Center emulator data file ${file} has no "referrals" list: it was not written by this emulator.`,
    );
  }
  return { version: 1, referrals: parsed.referrals, auth: parsed.auth, webhooks: parsed.webhooks };
}

/** Write to a temporary file and rename over the old one, so a crash never leaves half a file. */
export function writeState(file: string, state: PersistedState): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(state));
  renameSync(temporary, file);
}

/** Reads a seed file: `{ "referrals": [...], "users"?: [...] }`, or a bare list of referrals. */
export function readSeedFile(file: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(
      `Partner Center emulator seed file ${file} could not be read: ${(error as Error).message}`,
    );
  }
  return parsed;
}
