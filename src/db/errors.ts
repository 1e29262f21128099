import { DrizzleQueryError } from 'drizzle-orm';

/** PostgreSQL's SQLSTATE codes for a unique and a foreign-key violation. */
const CONSTRAINT_VIOLATIONS = new Set(['23505', '23503']);

/**
 * Did a write trip a unique or foreign-key constraint? The rules in src/clients/ check
 * before they write and lock what they depend on, but a concurrent change can still slip
 * in where no lock reaches (two services given the same audience at once): that is a
 * conflict the caller can retry, not a server failure. Works for both drivers, whose
 * errors Drizzle wraps with the driver's error as `cause`.
 */
export function isConstraintViolation(error: unknown): boolean {
  const cause = error instanceof DrizzleQueryError ? error.cause : error;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? cause.code : undefined;
  return typeof code === 'string' && CONSTRAINT_VIOLATIONS.has(code);
}

/**
 * SQLSTATE codes that mean "the database cannot serve us now", not "the query was wrong":
 * connection exceptions (class 08), the server shutting down or starting up (57P01–57P03),
 * a statement cancelled by statement_timeout (57014), too many connections (53300).
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57014', '53300']);
/** Socket errors on the way to the database. */
const UNAVAILABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/**
 * What node-postgres says when a connection is lost or cannot be had in time, and what
 * PGlite says once closed; these errors carry no code.
 */
const UNAVAILABLE_MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Query read timeout/,
  /is not queryable/,
  /^PGlite is closed/,
];

/**
 * Is this error the database being unreachable, down or too slow, as opposed to a query it
 * refused? Such errors become 503 + Retry-After (the caller may retry), never 500.
 * Works for both drivers and for errors Drizzle wraps (`cause`).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth++) {
    const code = 'code' in current && typeof current.code === 'string' ? current.code : undefined;
    if (code !== undefined && (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_ERRNOS.has(code))) return true;
    if (current instanceof AggregateError && current.errors.some(isDatabaseUnavailable)) return true;
    if (UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(current instanceof Error ? current.message : ''))) return true;
  }
  return false;
}

/** A short name for a database error that never includes query text or parameters: for logs. */
export function databaseErrorKind(error: unknown): string {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth++) {
    if (current instanceof DrizzleQueryError) continue;
    const code = 'code' in current && typeof current.code === 'string' ? current.code : undefined;
    return code === undefined ? current.message.slice(0, 80) : `${code} ${current.message.slice(0, 80)}`;
  }
  return 'database error';
}
