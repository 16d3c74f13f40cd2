import { oneLine } from './model/one-line.ts';

/** Bad input from the operator: reported as one line, exit 2, before any work. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Bad input with every problem found, not just the first (settings, a definition file). */
export class ProblemsError extends UsageError {
  override name = 'ProblemsError';
  readonly problems: readonly string[];
  constructor(what: string, problems: string[]) {
    const lines = problems.map(oneLine);
    super(`${what}: ${lines.join('; ')}`);
    this.problems = lines;
  }
}

/** Every configuration problem at once, reported on one line. */
export class ConfigError extends ProblemsError {
  override name = 'ConfigError';
  constructor(problems: string[]) {
    super('invalid configuration', problems);
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
