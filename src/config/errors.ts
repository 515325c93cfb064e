// The error type of the configuration boundary: every problem with its path in the file (and line, when the
// file has one), so an admin can fix them all in one edit instead of one per run.

export interface ConfigProblem {
  /** Dotted path in the file, e.g. `crm.salesforce.connection.loginUrl` (`''` for the whole file). */
  path: string;
  message: string;
  line?: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
    readonly fix: string,
  ) {
    super(formatProblems(file, problems));
  }
}

export function formatProblem(problem: ConfigProblem): string {
  const where = problem.path ? `${problem.path}: ` : '';
  const line = problem.line ? ` (line ${problem.line})` : '';
  return `${where}${problem.message}${line}`;
}

function formatProblems(file: string, problems: ConfigProblem[]): string {
  if (problems.length === 1) return `${file}: ${formatProblem(problems[0]!)}`;
  const list = problems.map((problem) => `\n  - ${formatProblem(problem)}`).join('');
  return `${file} has ${problems.length} problems:${list}`;
}

/** `a.b[0].c` from a path array. */
export function dottedPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text ? `.${String(segment)}` : String(segment);
  }
  return text;
}
