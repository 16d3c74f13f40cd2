/**
 * Where the idle build slots of `exporter work` wait for something to do. A
 * nudge (a NOTIFY) wakes one slot, never all of them, so a burst of requests
 * does not send every slot to the database at once; a slot that finds work
 * nudges the next, so a burst still fans out. A poll wakes them all.
 *
 * A nudge that finds no slot waiting is kept (one at most), so a request
 * committed just after a slot looked and just before it lay down is not
 * left until the next poll.
 */
export class IdleSlots {
  private waiting: (() => void)[] = [];
  private kept = false;

  get idle(): number {
    return this.waiting.length;
  }

  /** Resolves on a nudge, a poll, or the signal. */
  wait(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    if (this.kept) {
      this.kept = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const wake = () => {
        signal.removeEventListener('abort', wake);
        this.waiting = this.waiting.filter((w) => w !== wake);
        resolve();
      };
      this.waiting.push(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  wakeOne(): void {
    const first = this.waiting[0];
    if (first) first();
    else this.kept = true;
  }

  wakeAll(): void {
    for (const wake of [...this.waiting]) wake();
  }
}
