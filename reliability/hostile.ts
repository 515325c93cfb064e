// Hostile and bad input (issue 11 §3) against a running `cosell start`: forged, malformed, oversized and
// replayed webhook deliveries and a burst of them; referrals whose data is wrong in every way Partner Center
// could send it; deal values a seller could type; broken config files; and a sweep for secrets in everything
// cosell shows. Each input ends refused (with a reason), harmless, or synced correctly: never a crash, never a
// request to a host off the allow-list, never a silent drop.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { control } from '../src/cli/demo-story.ts';
import { everyAnswer, leakedSecrets } from '../test/e2e/runtime-support.ts';
import { type LongRunning, runCli } from '../test/helpers/cli.ts';
import { crmSide, microsoftReferral } from './crm-side.ts';
import { type Deployment, pausedNow, startService } from './deployment.ts';
import type { Rng } from './rng.ts';

/** refused: turned away, or held with ✖ and the reason; adjusted: synced, with what was cut or left out said on
 *  the record; synced: both sides equal; harmless: accepted and nothing changed twice; silent: dropped or changed
 *  without a word; crashed: the service stopped answering; leaked: a secret was found. */
export type Outcome = 'refused' | 'adjusted' | 'synced' | 'harmless' | 'silent' | 'crashed' | 'leaked';

export interface HostileCase {
  group: 'webhook' | 'data' | 'config' | 'secrets';
  name: string;
  outcome: Outcome;
  detail: string;
}

export interface HostileFigures {
  crm: string;
  cases: HostileCase[];
  burst: {
    requests: number;
    refused: number;
    legitimateDelivered: boolean;
    /** Resident memory before the burst and after each round of it. */
    rssMb: number[];
  };
  /** Requests that reached the trap server standing on a port of the allowed host that is not allowed. */
  offListRequests: number;
  /** Data the Partner Center emulator refuses to hold (its schema), so it never reaches cosell. */
  unsendable: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function hostileRun(
  d: Deployment,
  o: { rng: Rng; say: (line: string) => void; configCases?: boolean; logFile?: string },
): Promise<HostileFigures> {
  const service = await startService(d);
  const trap = await trapServer();
  const cases: HostileCase[] = [];
  try {
    o.say(`${d.crm}: hostile webhook deliveries`);
    cases.push(...(await webhookCases(d, service, trap.port)));
    cases.push(await replayCase(d, service));
    const burst = await burstCase(d, service, o.rng);
    o.say(`${d.crm}: hostile referral and deal data`);
    const unsendable: string[] = [];
    cases.push(...(await dataCases(d, service, unsendable)));
    if (o.configCases !== false) {
      o.say(`${d.crm}: broken config files`);
      cases.push(...(await configCases(d)));
    }
    cases.push(await secretsCase(d, service));
    return { crm: d.crm, cases, burst, offListRequests: trap.hits(), unsendable };
  } finally {
    await service.stop('SIGINT');
    if (o.logFile) await writeFile(o.logFile, service.stderr());
    await new Promise<void>((resolve) => trap.server.close(() => resolve()));
  }
}

/** An HTTP server on a port of 127.0.0.1 that is not on the allow-list: any request here is a leak. */
async function trapServer(): Promise<{ server: Server; port: number; hits(): number }> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.end('trap');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, hits: () => hits };
}

const alive = async (service: LongRunning, url: string): Promise<boolean> => {
  if (service.child.exitCode !== null) return false;
  try {
    return (await fetch(`${url}/healthz`)).ok;
  } catch {
    return false;
  }
};

const eventBody = (referralId: string) =>
  JSON.stringify({
    EventName: 'referral-updated',
    ResourceUri: `https://api.partnercenter.microsoft.com/engagements/v1/referrals/${referralId}`,
    ResourceName: 'referral',
    AuditUri: null,
    ResourceChangeUtcDate: new Date().toISOString(),
  });

async function webhookCases(d: Deployment, service: LongRunning, trapPort: number): Promise<HostileCase[]> {
  const allowed = new URL(d.pc.certificateUrl).host;
  const forged = `Signature ${randomBytes(256).toString('base64')}`;
  const body = eventBody('00000000-0000-0000-0000-000000000000');
  const json = { 'content-type': 'application/json' };
  const signed = (certificateUrl: string, signature = forged) => ({
    ...json,
    authorization: signature,
    'x-ms-certificate-url': certificateUrl,
    'x-ms-signature-algorithm': 'rsa-sha256',
  });
  const inputs: { name: string; headers: Record<string, string>; body: string | Buffer; expect: number[] }[] =
    [
      { name: 'no signature', headers: json, body, expect: [401] },
      { name: 'empty signature', headers: signed(d.pc.certificateUrl, 'Signature '), body, expect: [401] },
      {
        name: 'signature not base64',
        headers: signed(d.pc.certificateUrl, 'Signature %%%not-base64%%%'),
        body,
        expect: [401],
      },
      {
        name: 'bearer token instead of a signature',
        headers: signed(d.pc.certificateUrl, 'Bearer abc.def.ghi'),
        body,
        expect: [401],
      },
      { name: 'signed with another key', headers: signed(d.pc.certificateUrl), body, expect: [401] },
      {
        name: 'x-ms-signature header, forged',
        headers: { ...json, 'x-ms-signature': forged, 'x-ms-certificate-url': d.pc.certificateUrl },
        body,
        expect: [401],
      },
      {
        name: 'certificate on a foreign host',
        headers: signed('https://evil.example/cert.cer'),
        body,
        expect: [401],
      },
      {
        name: 'certificate over plain http, allowed host',
        headers: signed(`http://${allowed}/cert/x.cer`),
        body,
        expect: [401],
      },
      {
        name: 'certificate on another port of the allowed host',
        headers: signed(`https://127.0.0.1:${trapPort}/cert.cer`),
        body,
        expect: [401],
      },
      {
        name: 'certificate URL with the allowed host as user info',
        headers: signed(`https://${allowed}@127.0.0.1:${trapPort}/cert.cer`),
        body,
        expect: [401],
      },
      {
        name: 'certificate on the cloud metadata address',
        headers: signed('https://169.254.169.254/latest/meta-data/'),
        body,
        expect: [401],
      },
      {
        name: 'certificate on localhost, other port',
        headers: signed(`https://localhost:${trapPort}/`),
        body,
        expect: [401],
      },
      { name: 'certificate URL not a URL', headers: signed('::::'), body, expect: [401] },
      {
        name: 'malformed JSON',
        headers: signed(d.pc.certificateUrl),
        body: '{"EventName": ',
        expect: [401, 400],
      },
      {
        name: 'wrong content type',
        headers: { ...signed(d.pc.certificateUrl), 'content-type': 'text/plain' },
        body,
        expect: [401, 415],
      },
      { name: 'empty body', headers: signed(d.pc.certificateUrl), body: '', expect: [401, 400] },
      {
        name: 'body over the limit',
        headers: signed(d.pc.certificateUrl),
        body: Buffer.alloc(2 * 1024 * 1024, 0x61),
        expect: [413],
      },
      {
        name: 'JSON nested 100k deep',
        headers: signed(d.pc.certificateUrl),
        body: `${'['.repeat(60_000)}${']'.repeat(60_000)}`,
        expect: [401, 400, 413],
      },
      {
        name: 'binary garbage',
        headers: signed(d.pc.certificateUrl),
        body: randomBytes(4096),
        expect: [401, 400],
      },
    ];
  const cases: HostileCase[] = [];
  for (const input of inputs) {
    let status = 0;
    try {
      const response = await fetch(d.webhookUrl, {
        method: 'POST',
        headers: input.headers,
        body: input.body,
      });
      status = response.status;
      await response.arrayBuffer();
    } catch (error) {
      status = -1;
      void error;
    }
    const up = await alive(service, d.url);
    // A 2 MB upload may see its connection closed right after the early 413, before fetch reads the answer.
    const cut = status === -1 && input.expect.includes(413);
    cases.push({
      group: 'webhook',
      name: input.name,
      outcome: !up ? 'crashed' : input.expect.includes(status) || cut ? 'refused' : 'harmless',
      detail: cut ? 'connection closed while uploading (the 413 came first)' : `HTTP ${status}`,
    });
  }
  return cases;
}

/** A genuine delivery captured on its way and sent again, three times: accepted once, synced once. */
async function replayCase(d: Deployment, service: LongRunning): Promise<HostileCase> {
  const referral = await control<{ id: string }>(
    d.pc.control,
    'POST',
    '/incoming-referrals',
    microsoftReferral('Replay target', 'Replay customer', 4242),
  );
  let captured: { headers: IncomingMessage['headers']; body: Buffer } | null = null;
  const capture = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      captured ??= { headers: req.headers, body: Buffer.concat(chunks) };
      res.end();
    });
  });
  await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve));
  let back: { code: number | null; stderr: string } = { code: null, stderr: 'not attempted' };
  try {
    const port = (capture.address() as { port: number }).port;
    const away = await d.cli(['webhooks', 'register', `http://127.0.0.1:${port}/hook`, '--force']);
    if (away.code !== 0) throw new Error(`could not point the webhook at the capture server: ${away.stderr}`);
    await control(d.pc.control, 'POST', '/webhooks/events', {
      eventName: 'referral-updated',
      referralId: referral.id,
    });
    for (let i = 0; i < 200 && !captured; i++) await sleep(50);
  } finally {
    back = await d.cli(['webhooks', 'register', d.webhookUrl, '--force']);
    await new Promise<void>((resolve) => capture.close(() => resolve()));
  }
  if (back.code !== 0) throw new Error(`could not point the webhook back at cosell: ${back.stderr}`);
  if (!captured)
    return {
      group: 'webhook',
      name: 'replayed genuine delivery',
      outcome: 'silent',
      detail: 'nothing captured',
    };
  const { headers, body } = captured as { headers: IncomingMessage['headers']; body: Buffer };
  const forward = Object.fromEntries(
    ['content-type', 'authorization', 'x-ms-signature', 'x-ms-certificate-url', 'x-ms-signature-algorithm']
      .filter((h) => typeof headers[h] === 'string')
      .map((h) => [h, String(headers[h])]),
  );
  const statuses: number[] = [];
  for (let i = 0; i < 3; i++) {
    statuses.push((await fetch(d.webhookUrl, { method: 'POST', headers: forward, body })).status);
  }
  const crm = crmSide(d.crm, d.crmInfo['control']!);
  const count = async () => (await crm.opportunities()).filter((r) => r.referralId === referral.id).length;
  const waited = await patiently(d, service, async () => (await count()) > 0);
  // A duplicate would be written by the same burst of work as the first record: give it a moment to show.
  await sleep(1_000);
  const records = await count();
  const up = waited !== 'crashed' && (await alive(service, d.url));
  return {
    group: 'webhook',
    name: 'replayed genuine delivery (x3)',
    outcome: !up ? 'crashed' : records === 1 ? 'harmless' : records === 0 ? 'silent' : 'refused',
    detail: `HTTP ${statuses.join(', ')}; ${records} CRM record(s) for the referral after ${waited === 'crashed' ? '-' : waited} s (Partner Center signs no timestamp, so a replay is a redelivery: accepted, deduplicated)`,
  };
}

/** Thousands of forged deliveries as fast as the machine sends them, with one genuine event in the middle. */
async function burstCase(d: Deployment, service: LongRunning, rng: Rng): Promise<HostileFigures['burst']> {
  const rss = async () => {
    const status = await readFile(`/proc/${service.child.pid}/status`, 'utf8').catch(() => '');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return kb ? Math.round(Number(kb[1]) / 1024) : -1;
  };
  const rssMb = [await rss()];
  const perRound = 3_000;
  const rounds = 3;
  const requests = perRound * rounds;
  let refused = 0;
  let sent = 0;
  let target = 0;
  const referral = await control<{ id: string }>(
    d.pc.control,
    'POST',
    '/incoming-referrals',
    microsoftReferral('Burst survivor', 'Burst customer', 777),
  );
  const worker = async () => {
    while (sent < target) {
      sent++;
      if (sent === Math.round(requests / 2)) {
        await control(d.pc.control, 'POST', '/webhooks/events', {
          eventName: 'referral-updated',
          referralId: referral.id,
        });
      }
      try {
        const response = await fetch(d.webhookUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Signature ${randomBytes(256).toString('base64')}`,
            'x-ms-certificate-url':
              rng.next() < 0.5 ? d.pc.certificateUrl : `https://evil-${rng.int(1, 1e6)}.example/c.cer`,
          },
          body: eventBody(randomBytes(16).toString('hex')),
        });
        await response.arrayBuffer();
        if (response.status >= 400) refused++;
      } catch {
        // a refused connection is a refusal too; alive() below says whether the service survived
        refused++;
      }
    }
  };
  // Rounds, with memory read after each: bounded memory levels off instead of growing round after round.
  for (let round = 1; round <= rounds; round++) {
    target = perRound * round;
    await Promise.all(Array.from({ length: 64 }, worker));
    rssMb.push(await rss());
  }
  let legitimateDelivered = false;
  for (let i = 0; i < 200 && !legitimateDelivered; i++) {
    const log = await control<{ deliveries: { state: string; eventName: string }[] }>(
      d.pc.control,
      'GET',
      `/webhooks/deliveries?referralId=${referral.id}&state=delivered`,
    );
    legitimateDelivered = log.deliveries.some((x) => x.eventName === 'referral-updated');
    if (!legitimateDelivered) await sleep(100);
  }
  if (!(await alive(service, d.url))) legitimateDelivered = false;
  return { requests, refused, legitimateDelivered, rssMb };
}

/** The parts of a referral the data cases change (the rest is copied as the emulator made it). */
interface Editable {
  [key: string]: unknown;
  name: unknown;
  customerProfile: { address: Record<string, unknown>; team: Record<string, unknown>[] };
  details: Record<string, unknown>;
  inviteContext: Record<string, unknown>;
}

/** Referrals as Partner Center could send them, put in as given (no emulator rules), then announced. */
async function dataCases(d: Deployment, service: LongRunning, unsendable: string[]): Promise<HostileCase[]> {
  const base = await control<Record<string, unknown>>(
    d.pc.control,
    'POST',
    '/incoming-referrals',
    microsoftReferral('Template', 'Template customer', 1),
  );
  const clone = () => {
    const copy = structuredClone(base) as unknown as Editable;
    for (const key of ['id', 'eTag', 'links', 'engagementId', 'createdDateTime', 'updatedDateTime'])
      delete copy[key];
    return copy;
  };
  const long = 'x'.repeat(100_000);
  const edits: { name: string; edit: (r: Editable) => void }[] = [
    {
      name: 'country XX',
      edit: (r) => {
        r.customerProfile.address.country = 'XX';
      },
    },
    {
      name: 'country "usa"',
      edit: (r) => {
        r.customerProfile.address.country = 'usa';
      },
    },
    {
      name: 'country empty',
      edit: (r) => {
        r.customerProfile.address.country = '';
      },
    },
    {
      name: 'country lower case "us"',
      edit: (r) => {
        r.customerProfile.address.country = 'us';
      },
    },
    {
      name: 'country a number',
      edit: (r) => {
        r.customerProfile.address.country = 840;
      },
    },
    {
      name: 'close date year 0001',
      edit: (r) => {
        r.details.closingDateTime = '0001-01-01T00:00:00Z';
      },
    },
    {
      name: 'close date year 9999',
      edit: (r) => {
        r.details.closingDateTime = '9999-12-31T23:59:59Z';
      },
    },
    {
      name: 'close date not a date',
      edit: (r) => {
        r.details.closingDateTime = 'next Tuesday';
      },
    },
    {
      name: 'deal value as a string "12345"',
      edit: (r) => {
        r.details.dealValue = '12345';
      },
    },
    {
      name: 'deal value "12,345.50"',
      edit: (r) => {
        r.details.dealValue = '12,345.50';
      },
    },
    {
      name: 'deal value negative',
      edit: (r) => {
        r.details.dealValue = -5;
      },
    },
    {
      name: 'deal value 1e20',
      edit: (r) => {
        r.details.dealValue = 1e20;
      },
    },
    {
      name: 'deal value "abc"',
      edit: (r) => {
        r.details.dealValue = 'abc';
      },
    },
    {
      name: 'currency XYZ',
      edit: (r) => {
        r.details.currency = 'XYZ';
      },
    },
    {
      name: 'name of 100k characters',
      edit: (r) => {
        r.name = `Long ${long}`;
      },
    },
    {
      name: 'notes of 100k characters',
      edit: (r) => {
        r.inviteContext.notes = long;
      },
    },
    {
      name: 'name with NUL, RTL override and emoji',
      edit: (r) => {
        r.name = 'Evil\u0000 \u202Egnp.exe 🚀 deal';
      },
    },
    {
      name: 'contact email malformed',
      edit: (r) => {
        r.customerProfile.team[0]!.email = 'not-an-email@@';
      },
    },
    {
      name: 'no customer at all',
      edit: (r) => {
        delete (r as { customerProfile?: unknown }).customerProfile;
      },
    },
    {
      name: 'solutions not a list',
      edit: (r) => {
        r.details.requirements = { solutions: 'SOL-1' };
      },
    },
  ];
  const cases: HostileCase[] = [];
  const seeded: { name: string; id: string }[] = [];
  for (const { name, edit } of edits) {
    const referral = clone();
    edit(referral);
    referral.name =
      typeof referral.name === 'string' && referral.name !== 'Template' ? referral.name : `Hostile: ${name}`;
    let id: string;
    try {
      const answer = await control<{ ids?: string[] } | string[]>(d.pc.control, 'POST', '/seed', {
        referrals: [referral],
      });
      id = String((Array.isArray(answer) ? answer : (answer.ids ?? []))[0]);
    } catch (error) {
      // The emulator stores only what Partner Center's own schema allows; such data cannot reach cosell.
      unsendable.push(`${name}: ${(error as Error).message.slice(0, 160)}`);
      continue;
    }
    seeded.push({ name, id });
    await control(d.pc.control, 'POST', '/webhooks/events', {
      eventName: 'referral-created',
      referralId: id,
    });
  }
  // CRM side: deal values a seller could type on a shared opportunity.
  const crm = crmSide(d.crm, d.crmInfo['control']!);
  const solutionId = await crm.addCatalogueSolution();
  for (const [name, value] of [
    ['seller deal value negative', -5],
    ['seller deal value 1e14', 1e14],
  ] as const) {
    const id = await crm.share({ name: `Hostile ${name}`, accountName: `Hostile ${name}`, solutionId });
    await crm.setValue(id, value);
    seeded.push({ name, id });
  }
  for (const { name, id } of seeded) {
    cases.push({ group: 'data', name, ...(await settle(d, service, id)) });
  }
  return cases;
}

/** Waits until cosell has answered for the record: synced, or failing with a reason the operator reads. */
async function settle(
  d: Deployment,
  service: LongRunning,
  id: string,
): Promise<{ outcome: Outcome; detail: string }> {
  let answer: { outcome: Outcome; detail: string } | null = null;
  const waited = await patiently(d, service, async () => {
    const page = (await (await fetch(`${d.url}/api/records?q=${encodeURIComponent(id)}`)).json()) as {
      records: { id: number; state: string; lastOutcome: string | null; error: { message: string } | null }[];
    };
    const record = page.records[0];
    if (record?.lastOutcome) {
      if (record.state === 'ok') answer = await differences(d, record.id);
      else if (record.error?.message)
        answer = { outcome: 'refused', detail: record.error.message.slice(0, 160) };
    }
    return answer !== null;
  });
  if (waited === 'crashed') return { outcome: 'crashed', detail: 'the service stopped answering' };
  return answer ?? { outcome: 'silent', detail: `no run and no reason within ${waited} s` };
}

/** Polls `done` for 30 s, or up to six minutes while cosell reports an API paused: Dataverse's service protection
 *  (after the crash phase's backfills and the burst) holds the work as it should, and that is not a silent drop.
 *  Returns the seconds waited, or 'crashed' when the service stopped answering. */
async function patiently(
  d: Deployment,
  service: LongRunning,
  done: () => Promise<boolean>,
): Promise<number | 'crashed'> {
  const started = Date.now();
  const waited = () => Math.round((Date.now() - started) / 1000);
  let deadline = started + 30_000;
  while (Date.now() < deadline) {
    if (!(await alive(service, d.url))) return 'crashed';
    if (await done()) return waited();
    if ((await pausedNow(d.url)).until !== null)
      deadline = Math.max(deadline, Math.min(Date.now() + 30_000, started + 360_000));
    await sleep(250);
  }
  return waited();
}

/** Where the two sides of a synced record differ, and whether its audit line says why. */
async function differences(d: Deployment, linkId: number): Promise<{ outcome: Outcome; detail: string }> {
  const detail = (await (await fetch(`${d.url}/api/records/${linkId}`)).json()) as {
    fields: { field: string; partnerCenter: unknown; crm: unknown }[];
    audit: string[];
  };
  const short = (v: unknown) => JSON.stringify(v)?.slice(0, 40);
  // An open referral's status has no CRM field until it is won or lost.
  const differing = detail.fields
    .filter((f) => f.field !== 'status' && JSON.stringify(f.partnerCenter) !== JSON.stringify(f.crm))
    .map((f) => `${f.field}: ${short(f.partnerCenter)} vs ${short(f.crm)}`);
  const audit = detail.audit.join(' | ');
  const said = audit.match(/[^;|]*(cut to|left out|left off)[^;|]*/g) ?? [];
  if (differing.length === 0)
    return {
      outcome: said.length > 0 ? 'adjusted' : 'synced',
      detail: said.join('; ') || 'both sides equal',
    };
  return {
    outcome: said.length > 0 ? 'adjusted' : 'silent',
    detail:
      `differs: ${differing.join('; ')}${said.length > 0 ? `; the record says: ${said.join('; ')}` : ''}`.slice(
        0,
        400,
      ),
  };
}

/** Each broken config: `cosell start` refuses with one error naming the path and what it expects. */
async function configCases(d: Deployment): Promise<HostileCase[]> {
  const good = await readFile(d.configFile, 'utf8');
  const variants: { name: string; path: string; text: string }[] = [
    { name: 'YAML syntax error', path: 'line', text: `${good}\nengine: [unclosed\n` },
    {
      name: 'misspelt key',
      path: 'engine.worker.concurency',
      text: good.replace('concurrency: 4', 'concurency: 4'),
    },
    {
      name: 'number as words',
      path: 'engine.worker.concurrency',
      text: good.replace('concurrency: 4', 'concurrency: four'),
    },
    {
      name: 'zero workers',
      path: 'engine.worker.concurrency',
      text: good.replace('concurrency: 4', 'concurrency: 0'),
    },
    { name: 'port out of range', path: 'server.port', text: good.replace(/port: \d+/, 'port: 70000') },
    {
      name: 'unknown CRM',
      path: 'crm.kind',
      text: good.replace(/kind: (salesforce|dynamics)/, 'kind: oracle'),
    },
    {
      name: 'referrals URL not a URL',
      path: 'partnerCenter.referralsUrl',
      text: good.replace(/referralsUrl: \S+/, 'referralsUrl: not a url'),
    },
    {
      name: 'trust anchor file missing',
      path: 'trustAnchors',
      text: good.replace('emulator-ca.pem', 'missing-ca.pem'),
    },
    {
      name: 'negative lease',
      path: 'engine.worker.leaseMs',
      text: good.replace('leaseMs: 3000', 'leaseMs: -1'),
    },
    { name: 'log level unknown', path: 'log.level', text: good.replace('level: info', 'level: loud') },
  ];
  const cases: HostileCase[] = [];
  for (const v of variants) {
    if (v.text === good) throw new Error(`config case '${v.name}' changed nothing`);
    const file = join(d.dir, 'broken.yaml');
    await writeFile(file, v.text);
    const result = await runCli(['start', '--config', file], { env: d.env, cwd: d.dir, timeoutMs: 30_000 });
    const clear = result.code !== 0 && result.stderr.includes(v.path) && !/\n\s+at /.test(result.stderr);
    cases.push({
      group: 'config',
      name: v.name,
      outcome: result.code === 0 ? 'harmless' : clear ? 'refused' : 'silent',
      detail: result.stderr.trim().split('\n').slice(0, 2).join(' / ').slice(0, 200),
    });
  }
  return cases;
}

/** Every page, API answer and log line of the running service, searched for the secrets it was given. */
async function secretsCase(d: Deployment, service: LongRunning): Promise<HostileCase> {
  const secrets = Object.fromEntries(
    Object.entries(d.env)
      .filter(([k]) => k.startsWith('COSELL_'))
      .map(([k, v]) => [k, String(v)]),
  );
  const texts = [...(await everyAnswer(d.url)), service.stderr(), service.lines.join('\n')];
  const leaked = leakedSecrets(texts, secrets);
  return {
    group: 'secrets',
    name: `${Object.keys(secrets).length} secrets in ${texts.length} pages, answers and logs`,
    outcome: leaked.length > 0 ? 'leaked' : 'refused',
    detail: leaked.length > 0 ? `found: ${leaked.join(', ')}` : 'no secret found',
  };
}
