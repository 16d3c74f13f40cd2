/**
 * How a build is stopped: a lost claim, a stall, the process's own signal,
 * or a failure of one of its stages. Every stage is awaited through
 * `untilStopped`, so a stop ends the build in whatever stage it is, even
 * one that an abort alone would leave waiting forever (the ZIP's finalize on
 * an output nobody reads, a COPY on a hung connection).
 */
export class BuildStop {
  private readonly controller = new AbortController();
  private readonly stopped: Promise<never>;
  private readonly process: AbortSignal;
  private readonly onProcessStop = () => this.stop(this.process.reason);

  /** `process`: the process is being stopped (a signal): the build stops with it. */
  constructor(process: AbortSignal) {
    this.process = process;
    this.stopped = new Promise<never>((_resolve, reject) => {
      this.controller.signal.addEventListener('abort', () => reject(asError(this.controller.signal.reason)), {
        once: true,
      });
    });
    this.stopped.catch(() => {});
    if (process.aborted) this.onProcessStop();
    else process.addEventListener('abort', this.onProcessStop, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Stops the build with `reason` (a no-op once stopped: the first reason stays). */
  stop(reason: unknown): void {
    this.controller.abort(reason);
  }

  /** The stage, or the stop's reason as soon as the build is stopped. */
  untilStopped<T>(stage: Promise<T>): Promise<T> {
    return Promise.race([stage, this.stopped]);
  }

  throwIfStopped(): void {
    if (this.signal.aborted) throw asError(this.signal.reason);
  }

  dispose(): void {
    this.process.removeEventListener('abort', this.onProcessStop);
  }
}

export function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : Object.assign(new Error('aborted'), { name: 'AbortError' });
}
