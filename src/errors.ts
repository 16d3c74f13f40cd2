/** Bad input from the operator: reported as one line, exit 2, before any work. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Every configuration problem at once, reported on one line. */
export class ConfigError extends UsageError {
  override name = 'ConfigError';
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
