// Faults that need an operator (issue 11 §2): the Partner Center sign-in revoked while cosell runs. The work must
// pause without losing anything, the dashboard must say what happened and what to run, and after that fix the
// waiting referral must arrive.
import { writeFile } from 'node:fs/promises';
import { control } from '../src/cli/demo-story.ts';
import { crmSide, microsoftReferral } from './crm-side.ts';
import { type Deployment, startService } from './deployment.ts';

export interface ScenarioResult {
  name: string;
  /** What the dashboard's overview said while it lasted, or null when it said nothing. */
  causeShown: string | null;
  recovered: boolean;
  detail: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(deadlineMs: number, probe: () => Promise<T | null | undefined>): Promise<T | null> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const value = await probe().catch(() => null);
    if (value) return value;
    await sleep(250);
  }
  return null;
}

export async function credentialsRevoked(d: Deployment, logFile?: string): Promise<ScenarioResult> {
  const service = await startService(d);
  const crm = crmSide(d.crm, d.crmInfo['control']!);
  try {
    // Every token as if issued 91 days ago: the refresh token is past Entra's 90-day idle limit.
    await control(d.pc.control, 'POST', '/tokens/age', { days: 91 });
    const referral = await control<{ id: string }>(
      d.pc.control,
      'POST',
      '/incoming-referrals',
      microsoftReferral('Sent while signed out', 'Signed-out customer', 31_000),
    );
    const shown = await waitFor(60_000, async () => {
      const overview = (await (await fetch(`${d.url}/api/overview`)).json()) as {
        login: { state: string; message: string; fix: string | null };
      };
      return overview.login.state === 'open' ? `${overview.login.message} Fix: ${overview.login.fix}` : null;
    });
    const login = await d.cli(['login']);
    const arrived = await waitFor(90_000, async () =>
      (await crm.opportunities()).find((r) => r.referralId === referral.id),
    );
    return {
      name: 'Partner Center sign-in revoked mid-run, then `cosell login`',
      causeShown: shown,
      recovered: login.code === 0 && !!arrived,
      detail: arrived
        ? 'the referral sent while signed out arrived after the login'
        : `login exit ${login.code}; the referral sent while signed out did not arrive within 90 s`,
    };
  } finally {
    await service.stop('SIGINT');
    if (logFile) await writeFile(logFile, service.stderr());
  }
}
