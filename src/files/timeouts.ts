/** A source's connection is given up after this long. */
export const CONNECT_TIMEOUT_MS = 5_000;
/** Without a byte for this long, a read is given up (and retried). */
export const IDLE_TIMEOUT_MS = 60_000;
