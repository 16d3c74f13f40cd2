import { ExitCode } from './errors.ts';

export interface Stopper {
  /** Aborted on the first SIGTERM or SIGINT: stop claiming, abort uploads, hand claims back. */
  signal: AbortSignal;
  /** 143 or 130 once a signal arrived, else undefined. */
  readonly exitCode: ExitCode | undefined;
  dispose(): void;
}

/** How long a stopping run may take before it is forced out (Kubernetes sends SIGKILL after 30 s by default). */
const FORCE_EXIT_MS = 9_000;

/**
 * SIGTERM (an eviction, the CronJob's deadline) and SIGINT (Ctrl-C) ask the
 * run to stop cleanly. A second signal, or a stop that takes too long, exits
 * at once and says why: a batch job must never hang on its way out.
 */
export function watchSignals(): Stopper {
  const controller = new AbortController();
  let exitCode: ExitCode | undefined;
  const onSignal = (name: NodeJS.Signals) => {
    const code = name === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated;
    if (exitCode !== undefined) {
      process.stderr.write(`exporter: ${name} again; exiting now\n`);
      process.exit(code);
    }
    exitCode = code;
    process.stderr.write(`exporter: ${name} received; handing back claimed requests and stopping\n`);
    controller.abort(Object.assign(new Error(`stopped by ${name}`), { name: 'AbortError' }));
    setTimeout(() => {
      process.stderr.write(`exporter: still stopping after ${FORCE_EXIT_MS / 1000} s; exiting anyway\n`);
      process.exit(code);
    }, FORCE_EXIT_MS).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    signal: controller.signal,
    get exitCode() {
      return exitCode;
    },
    dispose() {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}
