/**
 * How a command ended, and the one table that turns it into the process's
 * exit code (README: Exit codes). Commands return an Outcome; errors are
 * mapped to one in src/cli.ts; a stop by signal overrides both. Nothing else
 * decides an exit code.
 */
export type Outcome =
  /** Everything was done: every claimed request ended ready, or there was nothing to do. */
  | 'done'
  /** Something was not done: a request did not end ready, an archive could not be deleted, an id could not be handled. */
  | 'incomplete'
  /** The run could not start or finish: the database or the storage unreachable. */
  | 'unavailable'
  /** Bad configuration, option or argument; nothing was done. */
  | 'usage'
  /** `request`: refused by the rate limit; nothing was written. */
  | 'rate-limited';

export type StopSignal = 'SIGINT' | 'SIGTERM';

export const EXIT_CODES: Readonly<Record<Outcome | StopSignal, number>> = Object.freeze({
  done: 0,
  incomplete: 1,
  unavailable: 1,
  usage: 2,
  'rate-limited': 3,
  SIGINT: 130, // 128 + 2
  SIGTERM: 143, // 128 + 15: claimed requests were handed back
});

/** A stop by signal wins: the run was cut short whatever it got to. */
export function exitCodeOf(outcome: Outcome, stoppedBy?: StopSignal): number {
  return EXIT_CODES[stoppedBy ?? outcome];
}

/** The worse of two outcomes, for a command made of passes (nightly). */
export function worse(a: Outcome, b: Outcome): Outcome {
  return EXIT_CODES[a] >= EXIT_CODES[b] ? a : b;
}
