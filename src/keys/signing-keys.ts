import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, type JWK } from 'jose';
import { recordChange, SYSTEM_ACTOR } from '../audit/events.js';
import type { SigningAlg } from '../config.js';
import type { DbOrTx } from '../db/connect.js';
import type { RotatedKeyStatus } from '../schemas/enums.js';
import type { SigningKeyInfo } from '../schemas/keys.js';
import { CompactSigner } from './jws.js';
import { activationTime, earliestActivation, type KeyTimeline, keyTimeline, signingSince } from './publication.js';
import { type KeyEncryptionInput, openPrivateKey, sealPrivateKey } from './sealing.js';
import {
  insertFirstActiveKey,
  insertSigningKey,
  publishedKeyRows,
  signingKeyRows,
  signingKeyWithStatus,
  withdrawSigningKeys,
} from './store.js';

export { KeyUnavailableError } from './sealing.js';

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
  /** Public JWKs of the next key, the active key and retired keys still within their publish window. */
  jwks: { keys: JWK[] };
  /** The same keys, for jwtVerify: how Portier checks tokens it issued (admin API, introspection). */
  verificationKeys: ReturnType<typeof createLocalJWKSet>;
  /** What is due at the time of loading, and when the set next changes by itself (see publication.ts). */
  timeline: KeyTimeline;
}

/** A new key row: `active` from `activatesAt` (start-up, emergency) or `next` until then. */
export async function newKeyRow(alg: SigningAlg, keys: KeyEncryptionInput, status: RotatedKeyStatus, activatesAt: Date) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJson = JSON.stringify(await exportJWK(privateKey));
  return {
    kid,
    alg,
    status,
    publicJwk: { ...publicJwk, kid, alg, use: 'sig' },
    ...sealPrivateKey(keys, kid, privateJson),
    activatesAt,
  };
}

/**
 * Makes sure exactly one active key of `alg` exists. When another process wins the race to
 * insert the first key, ours is not written (insertFirstActiveKey). When the active key has
 * another algorithm (SIGNING_ALG was changed), a next key of `alg` is published, and takes
 * over `publicationLead` seconds later (KEY_PUBLICATION_LEAD), as in any rotation (see KeyCache).
 */
export async function ensureActiveKey(
  db: DbOrTx,
  alg: SigningAlg,
  keys: KeyEncryptionInput,
  publicationLead: number,
  now: Date,
): Promise<void> {
  const active = await signingKeyWithStatus(db, 'active');
  if (active === undefined) {
    // The very first key signs at once: no verifier can have cached a JWKS without it.
    const row = await newKeyRow(alg, keys, 'active', now);
    await insertFirstActiveKey(db, row);
    return;
  }
  if (active.alg === alg) return;
  // Fail before changing anything if the current key cannot be read (wrong or missing
  // KEY_ENCRYPTION_KEY): otherwise a misconfiguration would silently rotate.
  await loadKeySet(db, keys, now);
  const next = await signingKeyWithStatus(db, 'next');
  if (next?.alg === alg) return;
  const row = await newKeyRow(alg, keys, 'next', activationTime(now, publicationLead));
  // A pending next key of another algorithm never signed: withdraw it.
  await withdrawSigningKeys(db, ['next'], now);
  await insertSigningKey(db, row);
  await recordChange(db, {
    action: 'key.scheduled',
    actor: SYSTEM_ACTOR,
    details: { kid: row.kid, alg, activates_at: row.activatesAt.toISOString(), reason: 'SIGNING_ALG changed' },
  });
}

/**
 * Loads the active private key (opening it) and the published public keys as of `now`.
 * Reads only; promoting a due key is the caller's (KeyCache) business.
 */
export async function loadKeySet(db: DbOrTx, keys: KeyEncryptionInput, now: Date, rotationDays?: number | undefined): Promise<KeySet> {
  const rows = await publishedKeyRows(db, now);
  const activeRow = rows.find((row) => row.status === 'active');
  if (activeRow === undefined) throw new Error('no active signing key in the database');
  const privateJson = openPrivateKey(keys, activeRow);
  const alg = activeRow.alg as SigningAlg;
  const privateKey = createPrivateKey({ key: JSON.parse(privateJson) as JsonWebKey, format: 'jwk' });
  if (privateKey.asymmetricKeyType === undefined) throw new Error('signing key is not an asymmetric key');
  const jwks = { keys: rows.map((row) => row.publicJwk as JWK) };
  return {
    active: { kid: activeRow.kid, alg, privateKey, signer: new CompactSigner(alg, activeRow.kid, privateKey) },
    jwks,
    verificationKeys: createLocalJWKSet(jwks),
    timeline: keyTimeline(rows, now, rotationDays),
  };
}

export async function listSigningKeys(db: DbOrTx): Promise<SigningKeyInfo[]> {
  const rows = await signingKeyRows(db);
  return rows.map((row) => ({
    kid: row.kid,
    alg: row.alg,
    status: row.status,
    created_at: row.createdAt.toISOString(),
    // Keys made before activates_at was recorded signed from their creation.
    activates_at: signingSince(row).toISOString(),
    earliest_activation: row.status === 'next' ? earliestActivation(row).toISOString() : null,
    retired_at: row.retiredAt?.toISOString() ?? null,
    publish_until: row.publishUntil?.toISOString() ?? null,
    public_jwk: row.publicJwk as SigningKeyInfo['public_jwk'],
  }));
}
