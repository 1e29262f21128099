/**
 * The UTC hour and day that quotas count in and usage is shown by: plain arithmetic on
 * milliseconds since the epoch (UTC has no daylight saving, so every hour is 3,600,000 ms
 * and every day 24 of them).
 */

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** The start of the UTC hour `now` is in. */
export function hourStart(now: number): number {
  return now - (((now % HOUR_MS) + HOUR_MS) % HOUR_MS);
}

/** The start of the UTC day `now` is in. */
export function dayStart(now: number): number {
  return now - (((now % DAY_MS) + DAY_MS) % DAY_MS);
}
