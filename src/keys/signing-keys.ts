import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { and, DrizzleQueryError, eq, gt, or } from 'drizzle-orm';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, type JWK } from 'jose';
import { type Actor, recordChange, SYSTEM_ACTOR } from '../audit/events.js';
import { MAX_ACCESS_TOKEN_TTL, type SigningAlg } from '../config.js';
import type { Db, DbOrTx } from '../db/connect.js';
import { signingKeys } from '../db/schema.js';
import { Cached } from '../lib/cached.js';
import { decryptAtRest, encryptAtRest } from '../lib/crypto.js';
import type { SigningKeyInfo } from '../schemas/keys.js';
import { CompactSigner } from './jws.js';

/** A retired key stays in the JWKS this long past the longest token it could have signed (clock skew). */
const PUBLISH_MARGIN_SECONDS = 300;

export interface ActiveKey {
  kid: string;
  alg: SigningAlg;
  privateKey: KeyObject;
  /** Signs access tokens with this key (see CompactSigner). */
  signer: CompactSigner;
}

/** What the token endpoint and the JWKS endpoint need, loaded once and cached. */
export interface KeySet {
  active: ActiveKey;
  /** Public JWKs of the active key and of retired keys still within their publish window. */
  jwks: { keys: JWK[] };
  /** The same keys, for jwtVerify: how Portier checks tokens it issued (admin API, introspection). */
  verificationKeys: ReturnType<typeof createLocalJWKSet>;
}

async function newKeyRow(alg: SigningAlg, keyEncryptionKey: Buffer | undefined) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJson = JSON.stringify(await exportJWK(privateKey));
  return {
    kid,
    alg,
    status: 'active' as const,
    publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
    privateKey: keyEncryptionKey ? encryptAtRest(keyEncryptionKey, privateJson) : privateJson,
    encrypted: keyEncryptionKey !== undefined,
  };
}

/**
 * Makes sure exactly one active key of `alg` exists. When another process wins the race to
 * insert the first key, the partial unique index turns our insert into a no-op. When the
 * active key has another algorithm (SIGNING_ALG was changed), it is rotated.
 */
export async function ensureActiveKey(db: Db, alg: SigningAlg, keyEncryptionKey: Buffer | undefined): Promise<void> {
  const [active] = await db.select({ alg: signingKeys.alg }).from(signingKeys).where(eq(signingKeys.status, 'active'));
  if (active === undefined) {
    const row = await newKeyRow(alg, keyEncryptionKey);
    await withoutQueryParameters(db.insert(signingKeys).values(row).onConflictDoNothing());
  } else if (active.alg !== alg) {
    // Fail before retiring anything if the current key cannot be read (wrong or missing
    // KEY_ENCRYPTION_KEY): otherwise a misconfiguration would silently rotate.
    await loadKeySet(db, keyEncryptionKey);
    // The old key signed tokens under the previous configuration, whose ACCESS_TOKEN_TTL we
    // cannot know: keep it published for the longest lifetime any configuration allows.
    await rotateSigningKey(db, alg, keyEncryptionKey, MAX_ACCESS_TOKEN_TTL);
  }
}

/**
 * Encrypts, under KEY_ENCRYPTION_KEY, every stored private key that is still in clear (the
 * key was set after they were made). Keys encrypted under another key are left alone;
 * loadKeySet reports those.
 */
export async function encryptStoredKeys(db: Db, keyEncryptionKey: Buffer): Promise<number> {
  const plain = await db
    .select({ kid: signingKeys.kid, privateKey: signingKeys.privateKey })
    .from(signingKeys)
    .where(eq(signingKeys.encrypted, false));
  for (const row of plain) {
    await db
      .update(signingKeys)
      .set({ privateKey: encryptAtRest(keyEncryptionKey, row.privateKey), encrypted: true })
      .where(and(eq(signingKeys.kid, row.kid), eq(signingKeys.encrypted, false)));
  }
  return plain.length;
}

/**
 * Retires the active key and makes a new one, in one transaction. The retired key stays
 * published until every token it signed has expired (`maxTokenTtl` + a margin).
 */
export async function rotateSigningKey(
  db: Db,
  alg: SigningAlg,
  keyEncryptionKey: Buffer | undefined,
  maxTokenTtl: number,
  actor: Actor = SYSTEM_ACTOR,
): Promise<string> {
  const row = await newKeyRow(alg, keyEncryptionKey);
  await withoutQueryParameters(
    db.transaction(async (tx) => {
      // Lock the active key first. A concurrent rotation waits here, and its UPDATE below then
      // sees (and retires) the key this one inserts; without the lock it would retire nothing
      // and its INSERT would break the one-active-key index.
      await tx.select({ kid: signingKeys.kid }).from(signingKeys).where(eq(signingKeys.status, 'active')).for('update');
      const now = new Date();
      await tx
        .update(signingKeys)
        .set({
          status: 'retired',
          retiredAt: now,
          publishUntil: new Date(now.getTime() + (maxTokenTtl + PUBLISH_MARGIN_SECONDS) * 1000),
        })
        .where(eq(signingKeys.status, 'active'));
      await tx.insert(signingKeys).values(row);
      await recordChange(tx, { action: 'key.rotated', actor, details: { kid: row.kid, alg } });
    }),
  );
  return row.kid;
}

/**
 * Drizzle writes a failed query's parameters into the error message, and here one of them is
 * a private key (in clear without KEY_ENCRYPTION_KEY): keep only the database's own error,
 * so that the key cannot end up in a log line or on stderr.
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

function publishedKeys(db: DbOrTx) {
  return db
    .select()
    .from(signingKeys)
    .where(or(eq(signingKeys.status, 'active'), and(eq(signingKeys.status, 'retired'), gt(signingKeys.publishUntil, new Date()))))
    .orderBy(signingKeys.createdAt);
}

/** Loads the active private key (decrypting it) and the published public keys. */
export async function loadKeySet(db: Db, keyEncryptionKey: Buffer | undefined): Promise<KeySet> {
  const rows = await publishedKeys(db);
  const activeRow = rows.find((row) => row.status === 'active');
  if (activeRow === undefined) throw new Error('no active signing key in the database');
  let privateJson = activeRow.privateKey;
  if (activeRow.encrypted) {
    if (keyEncryptionKey === undefined) {
      throw new KeyUnavailableError(`signing key ${activeRow.kid} is encrypted; set KEY_ENCRYPTION_KEY`);
    }
    try {
      privateJson = decryptAtRest(keyEncryptionKey, activeRow.privateKey);
    } catch {
      throw new KeyUnavailableError(`KEY_ENCRYPTION_KEY does not decrypt signing key ${activeRow.kid}`);
    }
  }
  const alg = activeRow.alg as SigningAlg;
  const privateKey = createPrivateKey({ key: JSON.parse(privateJson) as JsonWebKey, format: 'jwk' });
  if (privateKey.asymmetricKeyType === undefined) throw new Error('signing key is not an asymmetric key');
  const jwks = { keys: rows.map((row) => row.publicJwk as JWK) };
  return {
    active: { kid: activeRow.kid, alg, privateKey, signer: new CompactSigner(alg, activeRow.kid, privateKey) },
    jwks,
    verificationKeys: createLocalJWKSet(jwks),
  };
}

/** The stored key cannot be used with this configuration; the message names the variable. */
export class KeyUnavailableError extends Error {
  override name = 'KeyUnavailableError';
}

export async function listSigningKeys(db: Db): Promise<SigningKeyInfo[]> {
  const rows = await db.select().from(signingKeys).orderBy(signingKeys.createdAt);
  return rows.map((row) => ({
    kid: row.kid,
    alg: row.alg,
    status: row.status,
    created_at: row.createdAt.toISOString(),
    activates_at: row.activatesAt?.toISOString() ?? null,
    retired_at: row.retiredAt?.toISOString() ?? null,
    publish_until: row.publishUntil?.toISOString() ?? null,
    public_jwk: row.publicJwk as SigningKeyInfo['public_jwk'],
  }));
}

/**
 * Keeps the key set in memory. The token endpoint signs with the cached key; the cache is
 * dropped when the cache generation moves (a rotation anywhere) and reloaded on next use.
 */
export class KeyCache extends Cached<KeySet> {
  constructor(db: Db, keyEncryptionKey: Buffer | undefined) {
    super(() => loadKeySet(db, keyEncryptionKey));
  }
}
