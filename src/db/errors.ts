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
