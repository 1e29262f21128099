import type { Db } from '../db/connect.js';
import { bumpGeneration } from '../db/generation.js';
import { Cached } from '../lib/cached.js';
import type { Clock } from '../lib/clock.js';
import { insertRevocation, liveRevocations } from './store.js';

/**
 * Records a revoked token until it would have expired anyway (RFC 7009). Revocations of
 * tokens that have expired since are of no further use and go in the same transaction,
 * so the table holds no more rows than there are live revoked tokens.
 */
export async function revokeToken(db: Db, jti: string, expiresAt: Date, now: Date): Promise<void> {
  await db.transaction(async (tx) => {
    await insertRevocation(tx, jti, expiresAt, now);
    await bumpGeneration(tx, [{ topic: 'revocations' }]);
  });
}

/**
 * The set of revoked, not yet expired token ids, cached in memory and reloaded after the
 * cache generation moves (a revocation bumps it). Small by nature: a revocation lives no
 * longer than the token it revokes.
 */
export class RevocationList {
  private readonly jtis: Cached<Set<string>>;

  constructor(db: Db, clock: Clock) {
    this.jtis = new Cached(async () => new Set(await liveRevocations(db, new Date(clock()))));
  }

  async isRevoked(jti: string): Promise<boolean> {
    return (await this.jtis.get()).has(jti);
  }

  invalidate(): void {
    this.jtis.invalidate();
  }
}
