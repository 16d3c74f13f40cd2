import { EXIT_CODES, type StopSignal } from './outcome.ts';

export interface Stopper {
  /** Aborted on the first SIGTERM or SIGINT: stop claiming. */
  signal: AbortSignal;
  /**
   * Aborted when the builds in flight must stop and hand their requests back:
   * at the first signal for the batch commands, after the grace period for
   * `work` (see setGrace).
   */
  abortBuilds: AbortSignal;
  /** The signal that asked the run to stop, if one did. */
  readonly stoppedBy: StopSignal | undefined;
  /** Lets builds in flight finish for up to this long after the first signal (`work`). */
  setGrace(ms: number): void;
  dispose(): void;
}

/** How long stopping may take once the builds are told to stop, before the process is forced out. */
const FORCE_EXIT_MS = 9_000;

/**
 * SIGTERM (an eviction, the CronJob's deadline, a rollout) and SIGINT
 * (Ctrl-C) ask the run to stop cleanly: claim nothing more, let the builds in
 * flight finish within the grace period, then abort them and hand their
 * requests back. A second signal, or a stop that takes too long, exits at
 * once and says why: a process must never hang on its way out.
 */
export function watchSignals(): Stopper {
  const stopClaiming = new AbortController();
  const stopBuilds = new AbortController();
  let stoppedBy: StopSignal | undefined;
  let graceMs = 0;
  const onSignal = (name: StopSignal) => {
    const code = EXIT_CODES[name];
    if (stoppedBy !== undefined) {
      process.stderr.write(`exporter: ${name} again; exiting now\n`);
      process.exit(code);
    }
    stoppedBy = name;
    const reason = Object.assign(new Error(`stopped by ${name}`), { name: 'AbortError' });
    const abortBuilds = () => {
      stopBuilds.abort(reason);
      setTimeout(() => {
        process.stderr.write(`exporter: still stopping after ${FORCE_EXIT_MS / 1000} s; exiting anyway\n`);
        process.exit(code);
      }, FORCE_EXIT_MS).unref();
    };
    if (graceMs > 0) {
      process.stderr.write(
        `exporter: ${name} received; claiming nothing more, letting builds in flight finish for up to ${graceMs / 1000} s\n`,
      );
      stopClaiming.abort(reason);
      setTimeout(() => {
        if (!stopBuilds.signal.aborted)
          process.stderr.write('exporter: grace period over; handing back the requests still being built\n');
        abortBuilds();
      }, graceMs).unref();
    } else {
      process.stderr.write(`exporter: ${name} received; handing back claimed requests and stopping\n`);
      stopClaiming.abort(reason);
      abortBuilds();
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    signal: stopClaiming.signal,
    abortBuilds: stopBuilds.signal,
    get stoppedBy() {
      return stoppedBy;
    },
    setGrace(ms: number) {
      graceMs = ms;
    },
    dispose() {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}
