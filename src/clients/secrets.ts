import { hash, verify } from '@node-rs/argon2';
import { randomBase64Url } from '../lib/crypto.js';
import { SECRET_PREFIX } from '../lib/redact.js';

export { SECRET_PREFIX };

/** A new client secret: the prefix and 32 random bytes in base64url. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBase64Url(32);
}

/**
 * The most secrets a client has at once: its current one and, for a grace period after a
 * regeneration, the previous one (see regenerateSecret).
 */
export const MAX_LIVE_SECRETS = 2;

/**
 * argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): about 10 ms here.
 * The verification cache (oauth/client-directory.ts) keeps a returning client from paying
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
