// Reads and validates the config file (yaml or json; JSON is read by the YAML parser, which gives line
// numbers for both). Order matters: secrets written in the file are refused first (the message must name the
// variable to move them to, not complain about the key), then unknown keys (typos), then the schema.
// Relative paths in the file are relative to the file, so a config works from any working directory.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { type Document, isMap, isPair, isScalar, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem, dottedPath } from './errors.ts';
import { CONFIG_FILE_NAMES, type Config, configFileSchema, SECRET_ENV, SECRET_PATHS } from './schema.ts';
import { tenantEnv } from './tenant-env.ts';
import { findUnknownKeys } from './unknown-keys.ts';

const FIX =
  'Correct the settings listed above (`cosell init --out example.yaml` writes a commented example).';

/** Key names that hold secrets wherever they appear (a path such as privateKeyPath is not a secret). */
const SECRET_KEY =
  /^(client_?secret|secret|password|passwd|private_?key|token|access_?token|refresh_?token|api_?key|token_?key|sas_?token)$|secret|password/i;

/** The config file to use: `--config`, else COSELL_CONFIG, else the first default name in `cwd`. */
export function findConfigFile(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): string | undefined {
  const named = explicit ?? env['COSELL_CONFIG'];
  if (named) return resolve(cwd, named);
  for (const name of CONFIG_FILE_NAMES) {
    const candidate = resolve(cwd, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface LoadOptions {
  /** False for commands that never talk to the CRM (`cosell login`): its secrets are not asked for. */
  crmSecrets?: boolean;
}

/** What stands in for a CRM secret a command does not use (it never reaches a CRM call). */
export const CRM_SECRET_NOT_LOADED = '<not loaded: this command does not talk to the CRM>';

export async function loadConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  options: LoadOptions = {},
): Promise<Config> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      path,
      [{ path: '', message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})` }],
      'Check the path, or run `cosell init` to write a starter config.',
    );
  }
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      path,
      document.errors.map((error) => ({
        path: '',
        message: `is not valid YAML/JSON: ${error.message.split('\n')[0]}`,
        line: error.linePos?.[0].line,
      })),
      'Fix the syntax at the line shown.',
    );
  }
  const raw: unknown = document.toJS();
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(
      path,
      [{ path: '', message: 'must hold a mapping of settings (it is empty or a single value)' }],
      FIX,
    );
  }
  return configFromObject(
    raw as Record<string, unknown>,
    env,
    { file: path, baseDir: dirname(path), lineOf: (at) => lineOf(document, lines, at) },
    options,
  );
}

export interface ConfigSource {
  /** Named in errors. */
  file: string;
  /** Relative paths resolve against it. */
  baseDir: string;
  lineOf?: (path: (string | number)[]) => number | undefined;
}

/** Validates an already-parsed config (the demo builds one in code and goes through the same checks). */
export async function configFromObject(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  source: ConfigSource,
  options: LoadOptions = {},
): Promise<Config> {
  const at = (path: (string | number)[], message: string): ConfigProblem => {
    const line = source.lineOf?.(path);
    return { path: dottedPath(path), message, ...(line ? { line } : {}) };
  };

  const problems: ConfigProblem[] = [...findSecrets(raw).map((secret) => at(secret.path, secret.message))];
  for (const [from, to] of Object.entries(MOVED_SETTINGS)) {
    const path = from.split('.');
    if (valueAt(raw, path) !== undefined) {
      problems.push(at(path, `is set once for every CRM: use ${to} instead`));
    }
  }
  const reported = new Set(problems.map((p) => p.path));
  for (const unknown of findUnknownKeys(configFileSchema, raw)) {
    if (reported.has(dottedPath(unknown.path))) continue;
    const suggestion = closest(unknown.key, unknown.known);
    problems.push(
      at(
        unknown.path,
        `is not a setting cosell knows${suggestion ? ` (did you mean ${suggestion}?)` : ''}; known here: ${unknown.known.join(', ')}`,
      ),
    );
  }
  if (problems.length > 0) throw new ConfigError(source.file, problems, FIX);

  // A tenant's own variables (COSELL_SF_CLIENT_SECRET__ACME) win over the shared ones (tenant-env.ts).
  const tenantId = typeof raw['tenantId'] === 'string' && raw['tenantId'] ? raw['tenantId'] : 'default';
  const withSecrets = injectSecrets(
    structuredClone(raw),
    tenantEnv(env, tenantId),
    options.crmSecrets !== false,
  );
  const parsed = configFileSchema.safeParse(withSecrets, { error: describeIssue });
  if (!parsed.success) {
    throw new ConfigError(
      source.file,
      parsed.error.issues.map((issue) => at(issue.path as (string | number)[], messageFor(issue))),
      FIX,
    );
  }
  const config = parsed.data;
  // DATABASE_URL is the usual way platforms hand a PostgreSQL database to a process; only a PostgreSQL URL there
  // is taken (a SQLite path in it would be somebody else's setting).
  const databaseUrl = env['DATABASE_URL']?.trim();
  const storeUrl =
    env[SECRET_ENV.storeUrl]?.trim() ||
    (databaseUrl && /^postgres(ql)?:\/\//i.test(databaseUrl) ? databaseUrl : undefined) ||
    config.store.url;
  const relative = (p: string) => (isAbsolute(p) ? p : resolve(source.baseDir, p));

  const trustAnchors = config.partnerCenter.webhook.trustAnchors.map(relative);
  const trustAnchorsPem: string[] = [];
  for (const [index, anchor] of trustAnchors.entries()) {
    const pem = await readFile(anchor, 'utf8').catch((error: NodeJS.ErrnoException) => {
      problems.push(
        at(
          ['partnerCenter', 'webhook', 'trustAnchors', index],
          `cannot read ${anchor} (${error.code ?? error.message})`,
        ),
      );
      return undefined;
    });
    if (pem === undefined) continue;
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      problems.push(
        at(
          ['partnerCenter', 'webhook', 'trustAnchors', index],
          `${anchor} is not a PEM certificate (-----BEGIN CERTIFICATE-----); convert a .cer/.crt with \`openssl x509 -inform der -in root.cer -out root.pem\``,
        ),
      );
      continue;
    }
    trustAnchorsPem.push(pem);
  }
  if (problems.length > 0) throw new ConfigError(source.file, problems, FIX);

  const salesforce = config.crm.salesforce;
  if (salesforce) {
    // The engine's flags are the single source; the adapter reads its copy.
    salesforce.settings.displayCheckMark = config.engine.displayCheckMark;
    salesforce.settings.syncCoSellOpportunitiesOnly = config.engine.syncCoSellOnly;
  }
  if (salesforce?.connection.auth.grant === 'jwt-bearer' && salesforce.connection.auth.privateKeyPath) {
    salesforce.connection.auth.privateKeyPath = relative(salesforce.connection.auth.privateKeyPath);
  }
  const dynamics = config.crm.dynamics;
  if (dynamics) {
    // Dataverse keeps these flags in environment variables (R21): the engine's flags override them only when
    // the file sets them.
    const engine = (raw['engine'] ?? {}) as Record<string, unknown>;
    if (engine['displayCheckMark'] !== undefined)
      dynamics.settings.displayCheckMark = config.engine.displayCheckMark;
    if (engine['syncCoSellOnly'] !== undefined)
      dynamics.settings.syncCoSellOpportunitiesOnly = config.engine.syncCoSellOnly;
    const auth = dynamics.connection.auth;
    if (auth.grant === 'certificate') {
      if (auth.privateKeyPath) auth.privateKeyPath = relative(auth.privateKeyPath);
      if (auth.certificatePath) auth.certificatePath = relative(auth.certificatePath);
    }
  }
  return {
    ...config,
    file: source.file,
    store: { url: isFileStore(storeUrl) ? relative(storeUrl) : storeUrl },
    partnerCenter: {
      ...config.partnerCenter,
      webhook: { ...config.partnerCenter.webhook, trustAnchors, trustAnchorsPem },
    },
  };
}

/** CRM settings that duplicate an engine flag: the file sets them in one place only. */
const MOVED_SETTINGS: Readonly<Record<string, string>> = {
  'crm.salesforce.settings.displayCheckMark': 'engine.displayCheckMark',
  'crm.salesforce.settings.syncCoSellOpportunitiesOnly': 'engine.syncCoSellOnly',
  'crm.dynamics.settings.displayCheckMark': 'engine.displayCheckMark (or the environment variable)',
  'crm.dynamics.settings.syncCoSellOpportunitiesOnly': 'engine.syncCoSellOnly (or the environment variable)',
};

function valueAt(value: unknown, path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function isFileStore(url: string): boolean {
  return url !== ':memory:' && !/^[a-z][a-z0-9+.-]*:/i.test(url);
}

// ---- secrets -------------------------------------------------------------------------------------------

interface FoundSecret {
  path: (string | number)[];
  message: string;
}

function findSecrets(value: unknown, path: (string | number)[] = []): FoundSecret[] {
  if (Array.isArray(value)) return value.flatMap((item, index) => findSecrets(item, [...path, index]));
  if (typeof value === 'string') {
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)) {
      return [{ path, message: `holds a private key: ${moveTo(SECRET_ENV.salesforcePrivateKey)}` }];
    }
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]+@/i.test(value)) {
      const variable = dottedPath(path) === 'store.url' ? SECRET_ENV.storeUrl : 'an environment variable';
      return [{ path, message: `holds a password inside the URL: ${moveTo(variable)}` }];
    }
    return [];
  }
  if (typeof value !== 'object' || value === null) return [];
  const found: FoundSecret[] = [];
  for (const [key, child] of Object.entries(value)) {
    const childPath = [...path, key];
    const known = SECRET_PATHS[dottedPath(childPath)];
    if (known) found.push({ path: childPath, message: `is a secret: ${moveTo(known)}` });
    else if (SECRET_KEY.test(key) && child !== null && child !== '')
      found.push({
        path: childPath,
        message: `looks like a secret: remove it; cosell reads secrets only from environment variables (${Object.values(SECRET_ENV).join(', ')})`,
      });
    else found.push(...findSecrets(child, childPath));
  }
  return found;
}

function moveTo(variable: string): string {
  return `remove it from the file and set the environment variable ${variable} instead (secrets are never read from the config file)`;
}

/** Puts the environment's secrets where the embedded schemas expect them. */
function injectSecrets(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  crmSecrets: boolean,
): Record<string, unknown> {
  const crm = raw['crm'] as Record<string, unknown> | undefined;
  injectDynamicsSecrets(crm?.['dynamics'], env, crmSecrets);
  const salesforce = crm?.['salesforce'] as Record<string, unknown> | undefined;
  const connection = salesforce?.['connection'] as Record<string, unknown> | undefined;
  const auth = connection?.['auth'];
  if (!auth || typeof auth !== 'object') return raw;
  const fields = auth as Record<string, unknown>;
  const secret = env[SECRET_ENV.salesforceClientSecret];
  const key = env[SECRET_ENV.salesforcePrivateKey];
  if (fields['grant'] === 'client-credentials' && secret) fields['clientSecret'] = secret;
  if (fields['grant'] === 'jwt-bearer' && key) {
    // The variable holds the PEM itself, or a path to it (as `cosell doctor` reads it).
    if (key.includes('-----BEGIN')) fields['privateKey'] = key;
    else fields['privateKeyPath'] = resolve(key);
  }
  if (!crmSecrets) {
    if (fields['grant'] === 'client-credentials' && !fields['clientSecret'])
      fields['clientSecret'] = CRM_SECRET_NOT_LOADED;
    if (fields['grant'] === 'jwt-bearer' && !fields['privateKey'] && !fields['privateKeyPath'])
      fields['privateKey'] = CRM_SECRET_NOT_LOADED;
  }
  return raw;
}

/** Dynamics 365: the app registration's secret, or the certificate's private key (PEM or a path to it). */
function injectDynamicsSecrets(section: unknown, env: NodeJS.ProcessEnv, crmSecrets: boolean): void {
  const connection = (section as Record<string, unknown> | undefined)?.['connection'] as
    | Record<string, unknown>
    | undefined;
  const auth = connection?.['auth'];
  if (!auth || typeof auth !== 'object') return;
  const fields = auth as Record<string, unknown>;
  const secret = env[SECRET_ENV.dynamicsClientSecret];
  const key = env[SECRET_ENV.dynamicsPrivateKey];
  if (fields['grant'] === 'client-secret' && secret) fields['clientSecret'] = secret;
  if (fields['grant'] === 'certificate' && key) {
    if (key.includes('-----BEGIN')) fields['privateKey'] = key;
    else fields['privateKeyPath'] = resolve(key);
  }
  if (!crmSecrets) {
    if (fields['grant'] === 'client-secret' && !fields['clientSecret'])
      fields['clientSecret'] = CRM_SECRET_NOT_LOADED;
    if (fields['grant'] === 'certificate' && !fields['privateKey'] && !fields['privateKeyPath'])
      fields['privateKey'] = CRM_SECRET_NOT_LOADED;
  }
}

// ---- messages ------------------------------------------------------------------------------------------

type Issue = z.core.$ZodRawIssue;

/** Per-parse messages for zod's built-in checks; a message a schema gives itself still wins. */
function describeIssue(issue: Issue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${article(String(issue.expected))}, not ${kindOf(issue.input)}`;
    case 'invalid_format':
      if (issue.format === 'url') return 'must be a URL (such as https://example.com)';
      if (issue.format === 'regex') return undefined;
      return `must be a valid ${issue.format}`;
    case 'invalid_value':
      return `must be one of: ${(issue.values as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return bound('at least', issue.origin, issue.minimum, issue.input);
    case 'too_big':
      return bound('at most', issue.origin, issue.maximum, issue.input);
    case 'invalid_union':
      return 'does not match any allowed shape';
    case 'invalid_key': {
      // A record key that breaks its rule: say the rule, not just "invalid key".
      const inner = (issue.issues as { message?: string }[] | undefined)?.[0]?.message;
      return inner ? `is not a valid name: ${inner}` : undefined;
    }
    case 'unrecognized_keys': {
      // Partial records of known names (engine.mapping.fields) reject a typo: list the names they take.
      const shape = (issue.inst as { _zod?: { def?: { keyType?: { options?: unknown[] } } } } | undefined)
        ?._zod?.def?.keyType?.options;
      const keys = (issue.keys as string[]).map((k) => `"${k}"`).join(', ');
      return shape ? `${keys} is not a field it knows; use one of: ${shape.join(', ')}` : undefined;
    }
    default:
      return undefined;
  }
}

function bound(word: string, origin: unknown, limit: unknown, input: unknown): string {
  if (origin === 'string') return input === '' ? 'must not be empty' : `must be ${word} ${limit} characters`;
  if (origin === 'array') return `must list ${word} ${limit} item${limit === 1 ? '' : 's'}`;
  return `must be ${word} ${limit}`;
}

/** A missing secret is reported as the variable to set, since it cannot be fixed in the file. */
function messageFor(issue: z.core.$ZodIssue): string {
  const known = SECRET_PATHS[dottedPath(issue.path)];
  if (known && issue.code === 'invalid_type') {
    return `is required: set the environment variable ${known} (secrets are never read from the config file)`;
  }
  if (dottedPath(issue.path) === 'crm.salesforce.connection.auth.privateKeyPath') {
    return `jwt-bearer needs the private key: set ${SECRET_ENV.salesforcePrivateKey} (the PEM or a path to it) or privateKeyPath`;
  }
  return issue.message;
}

function article(word: string): string {
  return `${/^[aeiou]/i.test(word) ? 'an' : 'a'} ${word}`;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${article(typeof value)} (${JSON.stringify(value)})`;
}

/** The known key a typo most likely meant: same letters ignoring case, or edit distance ≤ 2. */
function closest(key: string, known: string[]): string | undefined {
  const lower = key.toLowerCase();
  const exact = known.find((candidate) => candidate.toLowerCase() === lower);
  if (exact) return exact;
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance <= 2 && (!best || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost));
    }
    previous = current;
  }
  return previous[b.length]!;
}

// ---- line numbers --------------------------------------------------------------------------------------

/** The line of the key at `path`, or of the nearest enclosing key that exists (for a missing setting). */
function lineOf(document: Document, lines: LineCounter, path: (string | number)[]): number | undefined {
  for (let length = path.length; length > 0; length--) {
    const parentPath = path.slice(0, length - 1);
    const last = path[length - 1];
    const parent = parentPath.length === 0 ? document.contents : document.getIn(parentPath, true);
    if (isMap(parent)) {
      const pair = parent.items.find(
        (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(last),
      );
      const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
      if (range) return lines.linePos(range[0]).line;
    } else {
      const node = document.getIn(path.slice(0, length), true) as { range?: [number, number, number] } | null;
      if (node?.range) return lines.linePos(node.range[0]).line;
    }
  }
  return undefined;
}
