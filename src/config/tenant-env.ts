// One deployment may serve several partner tenants (one config file each), and environment variables are one
// namespace: a tenant's own secret is the variable with its tenant id as suffix, `COSELL_SF_CLIENT_SECRET__ACME`
// for tenant `acme`, and falls back to the unsuffixed name (a deployment of one tenant sets only those).
import { SECRET_ENV } from './schema.ts';

/** `acme-eu` -> `ACME_EU`: the suffix a tenant's variables carry after a double underscore. */
export function tenantEnvSuffix(tenantId: string): string {
  return tenantId.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** The variable holding `name` for `tenantId`, e.g. COSELL_ADMIN_TOKEN__ACME. */
export function tenantVariable(name: string, tenantId: string): string {
  return `${name}__${tenantEnvSuffix(tenantId)}`;
}

/** `env` as `tenantId` sees it: each secret from its tenant's variable when that is set. */
export function tenantEnv(env: NodeJS.ProcessEnv, tenantId: string): NodeJS.ProcessEnv {
  const scoped: NodeJS.ProcessEnv = { ...env };
  for (const name of Object.values(SECRET_ENV)) {
    const own = env[tenantVariable(name, tenantId)];
    if (own !== undefined && own !== '') scoped[name] = own;
  }
  return scoped;
}
