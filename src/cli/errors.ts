/** An error the CLI prints as one sentence plus its fix, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly fix?: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * Errors from our boundaries (Partner Center, CRM) carry a `fix` sentence; the CLI shows them as
 * "what happened" + "fix" instead of a stack trace. Anything else is unexpected and keeps its stack.
 */
export function asCliError(error: unknown): CliError | undefined {
  if (error instanceof CliError) return error;
  if (error instanceof Error && 'fix' in error && typeof error.fix === 'string' && error.fix) {
    const fix = error.fix;
    const message = error.message.endsWith(fix) ? error.message.slice(0, -fix.length).trim() : error.message;
    return new CliError(message, fix);
  }
  return undefined;
}
