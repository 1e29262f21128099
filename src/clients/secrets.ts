import { createHash } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { randomBase64Url } from '../lib/crypto.js';
import { SECRET_PREFIX } from '../lib/redact.js';

export { SECRET_PREFIX };

/**
 * Which of a client's live secrets a secret can be: one bit of its SHA-256. A client has
 * at most two live secrets, its current one and, for a grace period after a regeneration,
 * the previous one (see regenerateSecret).
 * A regeneration with a grace period draws the new secret so that its slot differs from
 * the previous one's, so a presented secret is checked against the one live secret of its
 * slot (or a dummy hash), never both: a wrong secret costs one argon2id verification
 * whatever the client has. Stored beside the hash, the bit tells nothing useful about a
 * secret of 256 random bits.
 */
export type SecretSlot = 0 | 1;

export function secretSlot(secret: string): SecretSlot {
  const digest = createHash('sha256').update('portier secret slot\0').update(secret, 'utf8').digest();
  return ((digest[0] ?? 0) & 1) as SecretSlot;
}

/** A new client secret: the prefix and 32 random bytes in base64url; in `slot` if one is asked for. */
export function generateSecret(slot?: SecretSlot): string {
  for (;;) {
    const secret = SECRET_PREFIX + randomBase64Url(32);
    if (slot === undefined || secretSlot(secret) === slot) return secret;
  }
}

/**
 * What is stored of a secret (a client_secrets row's own columns): its argon2id hash, its
 * slot, and whether it contains `+` (for a hint in the log when a client sends it over
 * Basic without form-encoding: see oauth/client-auth/authenticate.ts).
 */
export async function storedSecret(secret: string): Promise<StoredSecretColumns> {
  return { hash: await hashSecret(secret), slot: secretSlot(secret), containsPlus: secret.includes('+') };
}

export interface StoredSecretColumns {
  hash: string;
  slot: SecretSlot;
  containsPlus: boolean;
}

/** A new secret and what is stored of it, made ahead of the transaction that stores it. */
export interface NewSecret {
  secret: string;
  stored: StoredSecretColumns;
}

/** A new secret, hashed: what createClient would otherwise make, for a caller that makes many at once. */
export async function newSecret(): Promise<NewSecret> {
  const secret = generateSecret();
  return { secret, stored: await storedSecret(secret) };
}

/**
 * argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): about 10 ms here.
 * The verification cache (clients/directory.ts) keeps a returning client from paying
 * it on every request.
 */
// algorithm 2 is Algorithm.Argon2id (a const enum, which verbatimModuleSyntax cannot import).
const ARGON2_OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashSecret(secret: string): Promise<string> {
  return hash(secret, ARGON2_OPTIONS);
}

/** Never throws: a malformed stored hash simply does not verify. */
export async function verifySecret(storedHash: string, presented: string): Promise<boolean> {
  try {
    return await verify(storedHash, presented);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * A hash of a random secret nobody knows. An unknown client_id is verified against it so
 * that it costs the same time as a known client with a wrong secret.
 */
export function dummySecretHash(): Promise<string> {
  dummyHash ??= hashSecret(generateSecret());
  return dummyHash;
}
