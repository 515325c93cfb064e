// R3, R28: Entra drops a Partner Center refresh token left unused for 90 days, and only an interactive, MFA
// `cosell login` gets a new one. A service that happens to be idle for a season must not lose its sign-in, so
// the engine renews the token on a schedule (each refresh returns a fresh refresh token) and stores when it
// last did; `cosell login` stores the same mark, and `doctor` shows the age and the next renewal.

export const TOKEN_RENEWED_CURSOR = 'partner-center:token-renewed';

const DAY_MS = 86_400_000;
/** Entra's inactivity limit for refresh tokens. */
export const REFRESH_TOKEN_INACTIVITY_MS = 90 * DAY_MS;
/** Doctor fails this long before the limit: time enough to find out why nothing renews it. */
const WARN_BEFORE_MS = 15 * DAY_MS;

const days = (ms: number) => {
  const d = Math.floor(ms / DAY_MS);
  const h = Math.floor(ms / 3_600_000);
  if (d >= 1) return `${d} day${d === 1 ? '' : 's'}`;
  return h >= 1 ? `${h} h` : 'under an hour';
};

/** The doctor line about the refresh token's age. */
export function tokenAgeCheck(
  renewedAt: Date | null,
  now: Date,
  renewEveryMs: number,
): { ok: boolean; message: string; fix?: string } {
  if (!renewedAt) {
    return {
      ok: true,
      message: `The refresh token's age is not known yet (signed in before this version); the service renews it every ${days(renewEveryMs)}.`,
    };
  }
  const age = now.getTime() - renewedAt.getTime();
  const left = REFRESH_TOKEN_INACTIVITY_MS - age;
  const next = new Date(renewedAt.getTime() + renewEveryMs);
  if (left <= 0) {
    return {
      ok: false,
      message: `The refresh token was last renewed ${days(age)} ago (${renewedAt.toISOString()}): Entra drops one unused for 90 days, so Partner Center will refuse it.`,
      fix: 'Run `cosell login --config <file>` again as a Referrals Admin user, and keep `cosell start` running so it renews the token.',
    };
  }
  if (left <= WARN_BEFORE_MS) {
    return {
      ok: false,
      message: `The refresh token was last renewed ${days(age)} ago; Entra drops it in ${days(left)} unless it is used.`,
      fix: 'Start the service (`cosell start`), which renews it at once and every day; or run `cosell login` again.',
    };
  }
  return {
    ok: true,
    message: `The refresh token was last renewed ${days(age)} ago (${renewedAt.toISOString()}); next renewal ${next.getTime() <= now.getTime() ? 'due now (at the next start of the service)' : `at ${next.toISOString()}`}; Entra drops one unused for 90 days.`,
  };
}
