// A scale-out deployment as an operator runs it, for the multi-process suite and `npm run bench -- --scale`:
// several partner tenants, each with its own Partner Center and CRM emulator (`cosell emulate` processes), one
// config file each, one store (PostgreSQL), `cosell login` per tenant, then any number of `cosell start --role`
// processes serving every tenant. Reads back through the emulators' control APIs (never counted as API calls).
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { crmSide, microsoftReferral } from '../../reliability/crm-side.ts';
import { type CrmKind, DEMO_CRMS, freePort } from '../../reliability/deployment.ts';
import {
  checkInvariants,
  type Expectation,
  type PcReferral,
  type Verdict,
} from '../../reliability/invariants.ts';
import { control } from '../../src/cli/demo-story.ts';
import { SECRET_ENV } from '../../src/config/schema.ts';
import { tenantVariable } from '../../src/config/tenant-env.ts';
import { type LongRunning, runCli, startCli } from '../helpers/cli.ts';
import { type PartnerCenterLine, partnerCenterSection } from './runtime-support.ts';

export interface FleetTenant {
  id: string;
  crm: CrmKind;
  configFile: string;
  pc: PartnerCenterLine;
  crmControl: string;
  adminToken: string;
  /** What the workload did, by referral id or CRM id: what the verdict expects. */
  expectations: Map<string, Expectation>;
}

/** The start-up line of `cosell start`: `tenants` when it serves several, `webhookUrl` when it serves one. */
export interface FleetStartLine {
  role: 'web' | 'worker' | 'all';
  url: string | null;
  tenants?: { tenantId: string; webhookUrl: string | null }[];
  webhookUrl?: string | null;
  healthz: string | null;
}

export interface Fleet {
  dir: string;
  env: NodeJS.ProcessEnv;
  tenants: FleetTenant[];
  /** `cosell start --role <role> [extra…]` for every tenant; resolves once it runs. */
  start(
    role: FleetStartLine['role'],
    extra?: string[],
  ): Promise<{ process: LongRunning; line: FleetStartLine }>;
  /** Points each tenant's Partner Center webhook at the process that printed `line`. */
  registerWebhooks(line: FleetStartLine): Promise<void>;
  /** Microsoft sends `count` referrals to the tenant, `width` at a time; `onEach` after each. */
  sendReferrals(
    tenant: FleetTenant,
    count: number,
    width: number,
    onEach?: () => Promise<void>,
  ): Promise<void>;
  /** Nothing lost, duplicated or stale, per tenant (reliability/invariants.ts). */
  verdicts(): Promise<Verdict[]>;
  close(): Promise<void>;
}

/** Runs `work` over `items`, `width` at a time. */
export async function inParallel<T>(
  items: T[],
  width: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

const started = (lines: string[]) => lines.some((l) => l.includes('"cosell":"started"'));

export async function startFleet(options: {
  tenants: { id: string; crm: CrmKind }[];
  storeUrl: string;
  /** The config's engine section, or a function giving each tenant's. */
  engine: Record<string, unknown> | ((tenant: { id: string; crm: CrmKind }) => Record<string, unknown>);
  /** Called with each tenant's CRM emulator control URL before cosell starts (limits, faults). */
  configureCrm?: (tenant: { id: string; crm: CrmKind; control: string }) => Promise<void>;
}): Promise<Fleet> {
  const dir = await mkdtemp(join(tmpdir(), 'cosell-fleet-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    COSELL_TOKEN_KEY: randomBytes(32).toString('base64'),
    COSELL_STORE_URL: options.storeUrl,
  };
  const processes: LongRunning[] = [];
  const tenants: FleetTenant[] = [];
  const ready = (lines: string[]) => lines.length > 0;
  try {
    for (const spec of options.tenants) {
      const [pcProcess, crmProcess] = await Promise.all([
        startCli(['emulate', 'partner-center', '--port', '0'], ready),
        startCli(['emulate', spec.crm, '--port', '0'], ready),
      ]);
      processes.push(pcProcess, crmProcess);
      const pc = JSON.parse(pcProcess.lines[0]!) as PartnerCenterLine;
      const crmInfo = JSON.parse(crmProcess.lines[0]!) as Record<string, string>;
      await options.configureCrm?.({ ...spec, control: crmInfo['control']! });
      const demo = DEMO_CRMS[spec.crm].config(crmInfo);
      const tenantDir = join(dir, spec.id);
      await mkdir(tenantDir);
      const configFile = join(tenantDir, 'cosell.config.yaml');
      await writeFile(
        configFile,
        `${await partnerCenterSection(tenantDir, pc)}${stringify({
          tenantId: spec.id,
          crm: demo.crm,
          engine: typeof options.engine === 'function' ? options.engine(spec) : options.engine,
          server: { host: '127.0.0.1', port, webhookPath: `/webhooks/partner-center/${spec.id}` },
        })}`,
      );
      // Each tenant's CRM secret and admin token under its own name (COSELL_SF_CLIENT_SECRET__ACME).
      for (const [name, value] of Object.entries(demo.env)) env[tenantVariable(name, spec.id)] = value;
      const adminToken = randomBytes(24).toString('base64url');
      env[tenantVariable(SECRET_ENV.adminToken, spec.id)] = adminToken;
      tenants.push({
        ...spec,
        configFile,
        pc,
        crmControl: crmInfo['control']!,
        adminToken,
        expectations: new Map(),
      });
    }
    for (const tenant of tenants) {
      const login = await runCli(['login', '--config', tenant.configFile], { env, cwd: dir });
      if (login.code !== 0) throw new Error(`cosell login (${tenant.id}) failed: ${login.stderr}`);
    }
  } catch (error) {
    for (const p of processes) await p.stop('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const configArgs = () => tenants.flatMap((t) => ['--config', t.configFile]);

  return {
    dir,
    env,
    tenants,
    async start(role, extra = []) {
      const process = await startCli(['start', '--role', role, ...extra, ...configArgs()], started, {
        env,
        cwd: dir,
        timeoutMs: 60_000,
      });
      processes.push(process);
      const line = JSON.parse(process.lines.find((l) => l.includes('"cosell":"started"'))!) as FleetStartLine;
      return { process, line };
    },
    async registerWebhooks(line) {
      for (const tenant of tenants) {
        const url = line.tenants
          ? line.tenants.find((t) => t.tenantId === tenant.id)?.webhookUrl
          : line.webhookUrl;
        if (!url) throw new Error(`${line.role} process takes no webhooks for ${tenant.id}`);
        const register = await runCli(['webhooks', 'register', url, '--config', tenant.configFile], {
          env,
          cwd: dir,
        });
        if (register.code !== 0) throw new Error(`webhooks register (${tenant.id}): ${register.stderr}`);
      }
    },
    async sendReferrals(tenant, count, width, onEach) {
      const numbers = Array.from({ length: count }, (_, i) => tenant.expectations.size + i + 1);
      await inParallel(numbers, width, async (n) => {
        const value = 10_000 + n;
        const r = await control<{ id: string }>(
          tenant.pc.control,
          'POST',
          '/incoming-referrals',
          microsoftReferral(`${tenant.id} referral ${n}`, `${tenant.id} customer ${n}`, value),
        );
        tenant.expectations.set(r.id, { kind: 'incoming', referralId: r.id, value });
        await onEach?.();
      });
    },
    verdicts: () =>
      Promise.all(
        tenants.map(async (tenant) => {
          const referrals = (
            await control<{ value: (PcReferral & { details?: { dealValue?: number } })[] }>(
              tenant.pc.control,
              'GET',
              '/referrals',
            )
          ).value.map((r) => ({ ...r, dealValue: r.details?.dealValue ?? null }));
          return checkInvariants({
            expectations: [...tenant.expectations.values()],
            referrals,
            records: await crmSide(tenant.crm, tenant.crmControl).opportunities(),
            acknowledged: [],
          });
        }),
      ),
    async close() {
      for (const p of processes) await p.stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
