import { and, DrizzleQueryError, eq, gt, inArray, lte, or } from 'drizzle-orm';
import type { DbOrTx } from '../db/connect.js';
import { signingKeys } from '../db/schema.js';
import type { RotatedKeyStatus } from '../schemas/enums.js';

/**
 * The signing keys' table, and the only module of keys/ that queries it. The rules (when a
 * key is published, signs, retires; how its private key is sealed) are rotation.ts's,
 * signing-keys.ts's and sealing.ts's; the changes of state run in their callers'
 * transactions, under the `keys` lock.
 */

export type SigningKeyRow = typeof signingKeys.$inferSelect;
/** A new key's row: its private key as stored (sealed, or in clear without KEY_ENCRYPTION_KEY). */
export type NewSigningKeyRow = typeof signingKeys.$inferInsert;

/**
 * Drizzle writes a failed query's parameters into the error message, and in a write of a
 * key one of them is a private key (in clear without KEY_ENCRYPTION_KEY): keep only the
 * database's own error, so that the key cannot end up in a log line or on stderr.
 */
async function withoutQueryParameters<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (!(error instanceof DrizzleQueryError)) throw error;
    const reason = error.cause instanceof Error ? error.cause.message : 'database error';
    throw new Error(`storing a signing key failed: ${reason}`, { cause: error.cause });
  }
}

export async function insertSigningKey(db: DbOrTx, row: NewSigningKeyRow): Promise<void> {
  await withoutQueryParameters(db.insert(signingKeys).values(row));
}

/**
 * Inserts the very first active key, unless another process just did: the partial unique
 * index on the active key turns this insert into a no-op then (one statement, no session
 * state: safe behind a transaction pooler).
 */
export async function insertFirstActiveKey(db: DbOrTx, row: NewSigningKeyRow): Promise<void> {
  await withoutQueryParameters(db.insert(signingKeys).values(row).onConflictDoNothing());
}

/** The active key, or the next key: there is at most one of each. */
export async function signingKeyWithStatus(db: DbOrTx, status: RotatedKeyStatus): Promise<SigningKeyRow | undefined> {
  const [row] = await db.select().from(signingKeys).where(eq(signingKeys.status, status));
  return row;
}

export async function getSigningKey(db: DbOrTx, kid: string): Promise<SigningKeyRow | undefined> {
  const [row] = await db.select().from(signingKeys).where(eq(signingKeys.kid, kid));
  return row;
}

/** The kid of the next key if its time to sign has come by `now`. */
export async function dueNextKid(db: DbOrTx, now: Date): Promise<string | undefined> {
  const [row] = await db
    .select({ kid: signingKeys.kid })
    .from(signingKeys)
    .where(and(eq(signingKeys.status, 'next'), lte(signingKeys.activatesAt, now)));
  return row?.kid;
}

/** The times of the active and the next key: what tells whether a rotation is due (publication.ts). */
export async function activeAndNextKeyTimes(
  db: DbOrTx,
): Promise<Array<Pick<SigningKeyRow, 'status' | 'createdAt' | 'activatesAt' | 'publishUntil'>>> {
  return db
    .select({
      status: signingKeys.status,
      createdAt: signingKeys.createdAt,
      activatesAt: signingKeys.activatesAt,
      publishUntil: signingKeys.publishUntil,
    })
    .from(signingKeys)
    .where(inArray(signingKeys.status, ['active', 'next']));
}

/** The keys in the JWKS at `now`: next, active, and retired ones within their publish window; oldest first. */
export async function publishedKeyRows(db: DbOrTx, now: Date): Promise<SigningKeyRow[]> {
  return db
    .select()
    .from(signingKeys)
    .where(or(inArray(signingKeys.status, ['next', 'active']), and(eq(signingKeys.status, 'retired'), gt(signingKeys.publishUntil, now))))
    .orderBy(signingKeys.createdAt);
}

/** Every key, oldest first. */
export async function signingKeyRows(db: DbOrTx): Promise<SigningKeyRow[]> {
  return db.select().from(signingKeys).orderBy(signingKeys.createdAt);
}

/** Retires the active key, published until `publishUntil`; returns its kid (none when there was no active key). */
export async function retireActiveKey(tx: DbOrTx, now: Date, publishUntil: Date): Promise<string[]> {
  const retired = await tx
    .update(signingKeys)
    .set({ status: 'retired', retiredAt: now, publishUntil })
    .where(eq(signingKeys.status, 'active'))
    .returning({ kid: signingKeys.kid });
  return retired.map((row) => row.kid);
}

/** Makes the next key `kid` the active one from `now` (nothing if `kid` is not the next key). */
export async function activateNextKey(tx: DbOrTx, kid: string, now: Date): Promise<void> {
  await tx
    .update(signingKeys)
    .set({ status: 'active', activatesAt: now })
    .where(and(eq(signingKeys.kid, kid), eq(signingKeys.status, 'next')));
}

/** Takes the keys of these statuses out of the JWKS at once (retired, published until `now`); returns their kids. */
export async function withdrawSigningKeys(tx: DbOrTx, statuses: RotatedKeyStatus[], now: Date): Promise<string[]> {
  const withdrawn = await tx
    .update(signingKeys)
    .set({ status: 'retired', retiredAt: now, publishUntil: now })
    .where(inArray(signingKeys.status, statuses))
    .returning({ kid: signingKeys.kid });
  return withdrawn.map((row) => row.kid);
}

/** Sets when the key `kid` starts signing. */
export async function setActivation(tx: DbOrTx, kid: string, activatesAt: Date): Promise<void> {
  await tx.update(signingKeys).set({ activatesAt }).where(eq(signingKeys.kid, kid));
}

/** Every key's private key as stored, oldest first. */
export async function storedPrivateKeys(db: DbOrTx): Promise<Array<Pick<SigningKeyRow, 'kid' | 'status' | 'privateKey' | 'encrypted'>>> {
  return db
    .select({ kid: signingKeys.kid, status: signingKeys.status, privateKey: signingKeys.privateKey, encrypted: signingKeys.encrypted })
    .from(signingKeys)
    .orderBy(signingKeys.createdAt);
}

/**
 * Stores `sealed` as the key `kid`'s private key, only if the stored one is still `read`
 * (what the caller sealed anew): two processes resealing at once do no harm.
 */
export async function replaceSealedKey(tx: DbOrTx, kid: string, read: string, sealed: string): Promise<void> {
  await withoutQueryParameters(
    tx
      .update(signingKeys)
      .set({ privateKey: sealed, encrypted: true })
      .where(and(eq(signingKeys.kid, kid), eq(signingKeys.privateKey, read))),
  );
}
