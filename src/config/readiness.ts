// What a config that loads still lacks before the service may run: the starter's `<placeholders>` and a
// webhook trust anchor. Kept apart from loading so `cosell init` output loads (and can be checked with
// `doctor`) while `cosell start` refuses to run half-configured.
import type { ConfigProblem } from './errors.ts';
import { dottedPath } from './errors.ts';
import type { Config } from './schema.ts';

const PLACEHOLDER = /^<[^<>]+>$/;

export function readinessProblems(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const visit = (value: unknown, path: (string | number)[]) => {
    if (typeof value === 'string' && PLACEHOLDER.test(value.trim())) {
      problems.push({
        path: dottedPath(path),
        message: `still holds the starter placeholder ${value.trim()}`,
      });
    } else if (Array.isArray(value)) {
      for (const [index, item] of value.entries()) visit(item, [...path, index]);
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, child] of Object.entries(value)) visit(child, [...path, key]);
    }
  };
  const { file: _file, ...settings } = config;
  visit(settings, []);
  if (config.partnerCenter.webhook.trustAnchorsPem.length === 0) {
    problems.push({
      path: 'partnerCenter.webhook.trustAnchors',
      message:
        "is empty: cosell cannot verify Partner Center webhook signatures without the root certificate they chain to. List the PEM file of Microsoft's root (the starter config explains how to obtain it; cosell does not bundle one)",
    });
  }
  const dynamics = config.crm.kind === 'dynamics' ? config.crm.dynamics : undefined;
  if (dynamics && new URL(dynamics.connection.url).hostname.startsWith('your-org.')) {
    problems.push({
      path: 'crm.dynamics.connection.url',
      message: `still holds the starter example ${dynamics.connection.url}: use your environment URL (Power Platform admin center > Environments)`,
    });
  }
  return problems;
}
