import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { hash, verify } from '@node-rs/argon2';
import { randomBase64Url } from '../lib/crypto.js';
import { OPAQUE_SECRET_PREFIX } from '../lib/redact.js';

export { OPAQUE_SECRET_PREFIX };

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `length` characters of base62, each uniformly drawn (bytes of 248 and more are drawn again). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length - out.length + 8)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

/** A new credential id: `cred_` and 16 base62 characters (95 bits; public, not a secret). */
export function newCredentialId(): string {
  return `cred_${randomBase62(16)}`;
}

export const CREDENTIAL_ID_PATTERN = /^cred_[0-9A-Za-z]{16}$/;

/** Where a self-identifying secret starts; see SECRET_PREFIX in the configuration. */
export const DEFAULT_SECRET_PREFIX = 'portier';
/** 43 base62 characters carry 256 bits. */
const RANDOM_LENGTH = 43;
/** A CRC32 in base62 always fits 6 characters (62^6 > 2^32): it is written with leading zeros. */
const CHECKSUM_LENGTH = 6;

/** The CRC32 of `text` in base62, 6 characters wide. */
export function checksum(text: string): string {
  let value = crc32(Buffer.from(text, 'utf8'));
  let out = '';
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

/**
 * A secret that names its credential and can be checked for typos and forgeries without
 * any lookup: `<prefix>_<credential id>_<43 base62: 256 random bits>_<CRC32 of what precedes, base62>`,
 * as GitHub's tokens are. The prefix lets scanners find it (see docs/clients.md); the id
 * lets the token endpoint verify it against that credential's hash alone.
 */
export function generateSelfIdentifyingSecret(credentialId: string, prefix: string = DEFAULT_SECRET_PREFIX): string {
  const body = `${prefix}_${credentialId}_${randomBase62(RANDOM_LENGTH)}`;
  return `${body}_${checksum(body)}`;
}

/** The shape of a self-identifying secret of any prefix (3–16 letters and digits). */
const SELF_IDENTIFYING_SHAPE = /^([0-9A-Za-z]{3,16})_(cred_[0-9A-Za-z]{16})_[0-9A-Za-z]{43}_([0-9A-Za-z]{6})$/;

/**
 * Whether `text` holds a self-identifying secret anywhere in it (of any prefix, its checksum
 * right): how a scanner would find one, for text that must never carry a secret (a
 * configuration document). The checksum makes a chance match of the shape very unlikely.
 */
export function containsSelfIdentifyingSecret(text: string): boolean {
  for (const [found] of text.matchAll(
    /(?<![0-9A-Za-z])[0-9A-Za-z]{3,16}_cred_[0-9A-Za-z]{16}_[0-9A-Za-z]{43}_[0-9A-Za-z]{6}(?![0-9A-Za-z])/g,
  )) {
    if (checksum(found.slice(0, -CHECKSUM_LENGTH - 1)) === found.slice(-CHECKSUM_LENGTH)) return true;
  }
  return false;
}

/**
 * What a presented secret says of itself, read without any database or argon2 work:
 * - `named`: a self-identifying secret with our prefix and a good checksum, naming its credential;
 * - `forged`: one with the shape of a self-identifying secret (or our prefix and `_cred_`) whose
 *   prefix or checksum is wrong: no credential can match it;
 * - `opaque`: any other secret (made before self-identifying secrets, or chosen by the
 *   operator for BOOTSTRAP_ADMIN_CLIENT_SECRET), found among the client's secrets by slot.
 */
export type PresentedSecret = { form: 'named'; credentialId: string } | { form: 'forged'; problem: string } | { form: 'opaque' };

export function readPresentedSecret(presented: string, prefix: string = DEFAULT_SECRET_PREFIX): PresentedSecret {
  const shaped = SELF_IDENTIFYING_SHAPE.exec(presented);
  if (shaped === null) {
    return presented.startsWith(`${prefix}_cred_`) ? { form: 'forged', problem: 'malformed self-identifying secret' } : { form: 'opaque' };
  }
  const [, givenPrefix, credentialId, givenChecksum] = shaped as unknown as [string, string, string, string];
  if (givenPrefix !== prefix) return { form: 'forged', problem: 'secret with another prefix' };
  if (checksum(presented.slice(0, -CHECKSUM_LENGTH - 1)) !== givenChecksum)
    return { form: 'forged', problem: 'secret with a wrong checksum' };
  return { form: 'named', credentialId };
}

/**
 * Which of a client's opaque secrets (made before self-identifying secrets) a presented
 * secret can be: one bit of its SHA-256. Before credentials, a client had at most two live
 * secrets, its current one and, for a grace period after a regeneration, the previous one,
 * drawn in different slots; so a presented opaque secret is checked against the one
 * opaque secret of its slot (or a dummy hash), never both, and a wrong secret costs one
 * argon2id verification. Stored beside the hash, the bit tells nothing useful about a
 * secret of 256 random bits. New secrets name their credential instead (see
 * generateSelfIdentifyingSecret) and have no slot.
 */
export type SecretSlot = 0 | 1;

export function secretSlot(secret: string): SecretSlot {
  const digest = createHash('sha256').update('portier secret slot\0').update(secret, 'utf8').digest();
  return ((digest[0] ?? 0) & 1) as SecretSlot;
}

/**
 * A secret of the form made before self-identifying secrets: the prefix and 32 random bytes
 * in base64url; in `slot` if one is asked for. Only the dummy hash is made so now.
 */
export function generateOpaqueSecret(slot?: SecretSlot): string {
  for (;;) {
    const secret = OPAQUE_SECRET_PREFIX + randomBase64Url(32);
    if (slot === undefined || secretSlot(secret) === slot) return secret;
  }
}

/**
 * What is stored of an opaque secret (BOOTSTRAP_ADMIN_CLIENT_SECRET, chosen by the
 * operator): its argon2id hash, its slot, and whether it contains `+` (for a hint in the log
 * when a client sends it over Basic without form-encoding: see oauth/client-auth/authenticate.ts).
 */
export async function storedSecret(secret: string): Promise<StoredSecretColumns> {
  return { hash: await hashSecret(secret), selfIdentifying: false, slot: secretSlot(secret), containsPlus: secret.includes('+') };
}

/** A client_credentials row's columns that hold a secret. */
export interface StoredSecretColumns {
  hash: string;
  selfIdentifying: boolean;
  slot: SecretSlot | null;
  containsPlus: boolean;
}

/** A new secret credential: its id, the secret (shown once) and what is stored of it, made ahead of the transaction that stores it. */
export interface NewSecret {
  credentialId: string;
  secret: string;
  stored: StoredSecretColumns;
}

/** A new self-identifying secret, hashed (milliseconds of CPU: call it before a transaction). */
export async function newSecret(prefix: string = DEFAULT_SECRET_PREFIX): Promise<NewSecret> {
  const credentialId = newCredentialId();
  const secret = generateSelfIdentifyingSecret(credentialId, prefix);
  return { credentialId, secret, stored: { hash: await hashSecret(secret), selfIdentifying: true, slot: null, containsPlus: false } };
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
  dummyHash ??= hashSecret(generateOpaqueSecret());
  return dummyHash;
}
