import { and, gt, lte, sql } from 'drizzle-orm';
import type { Db, DbOrTx } from '../db/connect.js';
import { revokedTokens, usedJwtIds } from '../db/schema.js';

/**
 * The OAuth endpoints' tables: the JWT ids used once (client assertions, DPoP proofs;
 * client-auth/jwt-ids.ts has the rule) and the revoked tokens (revocations.ts). The only
 * module of oauth/ that queries them.
 */

/** Inserts a used `jti` of `scope`; false when a row was there already. */
export async function insertUsedJwtId(db: Db, scope: string, jti: string, expiresAt: Date): Promise<boolean> {
  const inserted = await db.insert(usedJwtIds).values({ scope, jti, expiresAt }).onConflictDoNothing().returning({ jti: usedJwtIds.jti });
  return inserted.length > 0;
}

/** Takes over the row of a `jti` of `scope` whose JWT expired by `now`, with a new expiry; false when there is none such. */
export async function reviveExpiredJwtId(db: Db, scope: string, jti: string, expiresAt: Date, now: Date): Promise<boolean> {
  const revived = await db
    .update(usedJwtIds)
    .set({ expiresAt })
    .where(and(sql`${usedJwtIds.scope} = ${scope}`, sql`${usedJwtIds.jti} = ${jti}`, lte(usedJwtIds.expiresAt, now)))
    .returning({ jti: usedJwtIds.jti });
  return revived.length > 0;
}

/** Deletes the ids of JWTs that have expired. */
export async function pruneUsedJwtIds(db: Db, now: Date): Promise<void> {
  await db.delete(usedJwtIds).where(lte(usedJwtIds.expiresAt, now));
}

/** Records a revoked token id, and forgets those whose tokens expired by `now`. */
export async function insertRevocation(tx: DbOrTx, jti: string, expiresAt: Date, now: Date): Promise<void> {
  await tx.delete(revokedTokens).where(lte(revokedTokens.expiresAt, now));
  await tx.insert(revokedTokens).values({ jti, expiresAt }).onConflictDoNothing();
}

/** The ids of the revoked tokens that have not expired by `now`. */
export async function liveRevocations(db: DbOrTx, now: Date): Promise<string[]> {
  const rows = await db.select({ jti: revokedTokens.jti }).from(revokedTokens).where(gt(revokedTokens.expiresAt, now));
  return rows.map((row) => row.jti);
}
