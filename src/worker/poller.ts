import type { IdleSlots } from './idle-slots.ts';
import { sleep } from './sleep.ts';

export interface PollerOptions {
  idle: IdleSlots;
  /** Milliseconds until the next poll: short while notifications cannot be relied on, long while they can. */
  intervalMs: () => number;
  /** The soonest time a request waiting out its backoff becomes claimable. */
  nextRetryAt: () => Promise<Date | undefined>;
  signal: AbortSignal;
  onError: (error: unknown) => void;
}

/**
 * The source of truth for `exporter work`: NOTIFY only makes it faster. Wakes
 * every idle slot at each poll, and sleeps no longer than until the next
 * retry time, so a request that failed is retried by the same process when
 * its backoff ends. `reschedule()` cuts the current sleep short (a build just
 * failed and set a retry time; the listener just reconnected).
 */
export class Poller {
  private readonly options: PollerOptions;
  private wakeEarly = new AbortController();
  readonly done: Promise<void>;

  constructor(options: PollerOptions) {
    this.options = options;
    this.done = this.loop();
  }

  reschedule(): void {
    this.wakeEarly.abort();
  }

  private async loop(): Promise<void> {
    const { idle, signal } = this.options;
    while (!signal.aborted) {
      let delay = this.options.intervalMs();
      try {
        const retryAt = await this.options.nextRetryAt();
        if (retryAt) delay = Math.min(delay, retryAt.getTime() - Date.now() + 50);
      } catch (error) {
        this.options.onError(error);
      }
      await sleep(delay, AbortSignal.any([signal, this.wakeEarly.signal]));
      if (this.wakeEarly.signal.aborted) this.wakeEarly = new AbortController();
      idle.wakeAll();
    }
  }
}
