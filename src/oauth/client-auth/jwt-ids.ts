import type { Db } from '../../db/connect.js';
import { insertUsedJwtId, pruneUsedJwtIds, reviveExpiredJwtId } from '../store.js';

export { pruneUsedJwtIds } from '../store.js';

/** Expired rows are deleted on about one use in this many, so the table stays small without a job. */
const PRUNE_ONE_IN = 64;

/** The longest `jti` kept: a random id needs far less, and a caller must not make us store much. */
export const MAX_JWT_ID_LENGTH = 256;

/**
 * Whether `jti` can be kept in the replay store: a non-empty string of at most
 * MAX_JWT_ID_LENGTH characters without control characters (PostgreSQL refuses a NUL in
 * text, which would turn a bad JWT into a 500).
 */
export function isStorableJwtId(jti: unknown): jti is string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
  return typeof jti === 'string' && jti !== '' && jti.length <= MAX_JWT_ID_LENGTH && !/[\x00-\x1f\x7f]/.test(jti);
}

/**
 * Records that the JWT `jti` of `scope` has been used, and says whether this was its first
 * use. Shared by every instance through the table's primary key: of two requests carrying
 * the same id, on one instance or two, exactly one gets `true`. `expiresAt` is when the JWT
 * itself expires; until then a replay is refused, after that its signature check refuses it.
 *
 * Scopes keep issuers apart: `client_assertion:<client_id>` for RFC 7523 assertions,
 * `dpop:<jwk thumbprint>` for RFC 9449 proofs.
 */
export async function claimJwtId(db: Db, scope: string, jti: string, expiresAt: Date, now: Date): Promise<boolean> {
  if (Math.floor(Math.random() * PRUNE_ONE_IN) === 0) await pruneUsedJwtIds(db, now);
  if (await insertUsedJwtId(db, scope, jti, expiresAt)) return true;
  // A row left over from a JWT that has expired does not make a new one a replay.
  return reviveExpiredJwtId(db, scope, jti, expiresAt, now);
}
