/** The exit codes, documented in the README. Only src/cli.ts turns them into a process exit. */
export const ExitCode = {
  /** Every claimed request ended ready (or there was nothing to do). */
  ok: 0,
  /** A request did not end ready, or the run could not finish (database or storage unreachable). */
  failure: 1,
  /** Bad configuration, option or argument; nothing was done. */
  usage: 2,
  /** `request`: refused by the rate limit; nothing was written. */
  rateLimited: 3,
  /** Stopped by SIGINT (128 + 2). */
  interrupted: 130,
  /** Stopped by SIGTERM (128 + 15), claimed requests handed back. */
  terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

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

/** Already reported to the operator; exit with this code. */
export class ExitError extends Error {
  override name = 'ExitError';
  readonly code: ExitCode;
  constructor(code: ExitCode, message = `exit ${code}`) {
    super(message);
    this.code = code;
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
