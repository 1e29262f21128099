/** The first and the last instant a timestamp may name: years 1 to 9999, as RFC 3339 writes them. */
const EARLIEST = new Date('0001-01-01T00:00:00Z').getTime();
export const LATEST_TIMESTAMP = new Date('9999-12-31T23:59:59.999Z').getTime();

/**
 * An RFC 3339 date-time (already checked for its form) as a Date that PostgreSQL can hold
 * and that writes back as RFC 3339: years 1 to 9999. Anything else, year 0 or 10000
 * included, is undefined, for the caller to refuse as a 400 naming the field.
 */
export function parseTimestamp(value: string): Date | undefined {
  const time = Date.parse(value);
  if (Number.isNaN(time) || time < EARLIEST || time > LATEST_TIMESTAMP) return undefined;
  return new Date(time);
}
