// The effective configuration as the dashboard and the admin API show it: every secret replaced by where it
// comes from, so an admin sees which variable to set without the value ever leaving the process.
import type { Config } from './schema.ts';
import { SECRET_ENV, SECRET_PATHS } from './schema.ts';

/** Any key named like a secret is hidden too, wherever a later setting puts one. */
const SECRET_KEY = /secret|password|private.?key|token|authorization|pem$/i;

export function redactedConfig(config: Config): Record<string, unknown> {
  const plain = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
  const walk = (value: unknown, path: string): unknown => {
    if (Array.isArray(value)) return value.map((item, i) => walk(item, `${path}.${i}`));
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      const at = path ? `${path}.${key}` : key;
      const variable = SECRET_PATHS[at];
      if (variable) out[key] = inner === undefined || inner === null ? inner : `[redacted: from ${variable}]`;
      else if (SECRET_KEY.test(key) && (typeof inner === 'string' || Array.isArray(inner)))
        out[key] = '[redacted]';
      else out[key] = walk(inner, at);
    }
    return out;
  };
  const redacted = walk(plain, '') as Record<string, unknown>;
  const store = redacted['store'] as { url?: string } | undefined;
  if (store?.url) store.url = withoutPassword(store.url);
  return redacted;
}

/** A database URL keeps its host and name; its password (from COSELL_STORE_URL) does not show. */
export function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = 'redacted';
    return `${parsed.toString()} (password from ${SECRET_ENV.storeUrl})`;
  } catch {
    return url;
  }
}
