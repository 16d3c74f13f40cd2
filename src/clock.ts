/** The time, passed in so that tests can set it. Expiry compares with the database's clock instead. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
