import { gt, lte } from 'drizzle-orm';
import type { Db } from '../db/connect.js';
import { bumpGeneration } from '../db/generation.js';
import { revokedTokens } from '../db/schema.js';

/**
 * Records a revoked token until it would have expired anyway (RFC 7009). Revocations of
 * tokens that have expired since are of no further use and go in the same transaction,
 * so the table holds no more rows than there are live revoked tokens.
 */
export async function revokeToken(db: Db, jti: string, expiresAt: Date): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.delete(revokedTokens).where(lte(revokedTokens.expiresAt, new Date()));
    await tx.insert(revokedTokens).values({ jti, expiresAt }).onConflictDoNothing();
    await bumpGeneration(tx);
  });
}

/**
 * The set of revoked, not yet expired token ids, cached in memory and reloaded after the
 * cache generation moves (a revocation bumps it). Small by nature: a revocation lives no
 * longer than the token it revokes.
 */
export class RevocationList {
  private jtis: Promise<Set<string>> | undefined;

  constructor(private readonly db: Db) {}

  async isRevoked(jti: string): Promise<boolean> {
    if (this.jtis === undefined) {
      const loading = this.db
        .select({ jti: revokedTokens.jti })
        .from(revokedTokens)
        .where(gt(revokedTokens.expiresAt, new Date()))
        .then((rows) => new Set(rows.map((row) => row.jti)));
      loading.catch(() => {
        if (this.jtis === loading) this.jtis = undefined;
      });
      this.jtis = loading;
    }
    return (await this.jtis).has(jti);
  }

  invalidate(): void {
    this.jtis = undefined;
  }
}
