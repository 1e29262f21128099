import { and, eq, lte } from 'drizzle-orm';
import type { Db } from '../db/connect.js';
import { usedJwtIds } from '../db/schema.js';

/**
 * What people/ keeps in tables besides the sessions (sessions.ts, for now still its own):
 * the states of sign-ins used once, in used_jwt_ids under their own scope.
 */

const STATE_SCOPE = 'console_login_state';

/**
 * Marks a sign-in's state as used, once for all instances (the primary key of
 * used_jwt_ids refuses the second); false when it was used before. Rows of expired
 * sign-ins go at the same time.
 */
export async function claimLoginState(db: Db, state: string, expiresAt: Date, now: Date): Promise<boolean> {
  await db.delete(usedJwtIds).where(and(eq(usedJwtIds.scope, STATE_SCOPE), lte(usedJwtIds.expiresAt, now)));
  const inserted = await db
    .insert(usedJwtIds)
    .values({ scope: STATE_SCOPE, jti: state, expiresAt })
    .onConflictDoNothing()
    .returning({ jti: usedJwtIds.jti });
  return inserted.length > 0;
}
