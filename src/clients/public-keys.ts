import { createHash } from 'node:crypto';
import { exportJWK, importJWK, type JWK } from 'jose';
import type { FieldError } from '../lib/errors.js';
import { PRIVATE_JWK_MEMBERS } from '../schemas/clients.js';

/**
 * The rules for public keys an admin registers, and for URLs Portier fetches keys from:
 * a private_key_jwt client's `jwks` and `jwks_uri`, and a trusted issuer's (federation/).
 */

/**
 * What is wrong with a URL keys are fetched from (a jwks_uri, an issuer), or undefined.
 * Syntax only: where it leads is checked each time it is fetched (a host name can resolve
 * elsewhere tomorrow; see oauth/client-auth/remote-jwks.ts).
 */
export function httpsUrlProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must be an absolute https URL';
  }
  if (url.protocol !== 'https:') return 'must be an https URL';
  if (url.username !== '' || url.password !== '') return 'must not contain credentials';
  if (url.hash !== '' || uri.includes('#')) return 'must not contain a fragment';
  return undefined;
}

/**
 * A JWKS of public keys (each importable), as stored: records a field error under `path`
 * for each key that is not one, and returns the keys that are.
 */
export async function checkPublicJwks(jwks: { keys: unknown[] }, path: string, errors: FieldError[]): Promise<{ keys: JWK[] }> {
  const keys: JWK[] = [];
  for (const [i, key] of jwks.keys.entries()) {
    const stored = await checkPublicKey(key, `${path}/keys/${i}`, errors);
    if (stored !== undefined) keys.push(stored);
  }
  return { keys };
}

/**
 * A client's own keys (its `jwks`): checkPublicJwks's rules, and each key once. The same key
 * twice (the same JWK thumbprint, whatever its kid, alg or use) would be two credentials of
 * one key, the second spending one of MAX_CREDENTIALS_PER_CLIENT for nothing. (A trusted
 * issuer may list one key under two kids: its sets are checked by checkPublicJwks alone.)
 */
export async function checkClientJwks(jwks: { keys: unknown[] }, path: string, errors: FieldError[]): Promise<{ keys: JWK[] }> {
  const keys: JWK[] = [];
  const firstOf = new Map<string, number>();
  for (const [i, key] of jwks.keys.entries()) {
    const stored = await checkPublicKey(key, `${path}/keys/${i}`, errors);
    if (stored === undefined) continue;
    const thumbprint = jwkThumbprint(stored);
    const first = thumbprint === undefined ? undefined : firstOf.get(thumbprint);
    if (first !== undefined) {
      errors.push({ path: `${path}/keys/${i}`, message: `is the key of ${path}/keys/${first} again (the same JWK thumbprint)` });
      continue;
    }
    if (thumbprint !== undefined) firstOf.set(thumbprint, i);
    keys.push(stored);
  }
  return { keys };
}

/** One key of a set, as stored; records a field error under `path` when it is no public key Portier takes. */
async function checkPublicKey(key: unknown, path: string, errors: FieldError[]): Promise<JWK | undefined> {
  if (typeof key !== 'object' || key === null || Array.isArray(key)) {
    errors.push({ path, message: 'must be a JWK object' });
    return undefined;
  }
  const jwk = key as JWK;
  if (PRIVATE_JWK_MEMBERS.some((member) => member in jwk)) {
    errors.push({ path, message: 'must be a public key: private or symmetric key material is refused' });
    return undefined;
  }
  const stored = await storablePublicKey(jwk);
  if (stored === undefined) errors.push({ path, message: 'is not a usable public key (kty EC, RSA or OKP)' });
  return stored;
}

/** Whether `jwks` is a key set with at least one key (the schema checks the rest of its shape). */
export function hasKeys(jwks: { keys: unknown[] } | null | undefined): jwks is { keys: unknown[] } {
  return jwks !== undefined && jwks !== null && Array.isArray(jwks.keys) && jwks.keys.length > 0;
}

/**
 * The key as it is stored: the members that define the public key, as jose exports them,
 * plus the kid, alg and use the admin gave (the schema checks those). Nothing else of the
 * submitted object is kept. Undefined when it is not a usable EC, RSA or OKP public key.
 */
async function storablePublicKey(jwk: JWK): Promise<JWK | undefined> {
  if (jwk.kty !== 'EC' && jwk.kty !== 'RSA' && jwk.kty !== 'OKP') return undefined;
  let publicKey: Awaited<ReturnType<typeof importJWK>>;
  try {
    publicKey = await importJWK(jwk, jwk.alg ?? defaultAlgFor(jwk));
  } catch {
    return undefined;
  }
  const { kid, alg, use } = jwk;
  return {
    ...(await exportJWK(publicKey)),
    ...(kid !== undefined && { kid }),
    ...(alg !== undefined && { alg }),
    ...(use !== undefined && { use }),
  };
}

function defaultAlgFor(jwk: JWK): string {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  if (jwk.crv === 'P-384') return 'ES384';
  if (jwk.crv === 'P-521') return 'ES512';
  return 'ES256';
}

/** The required members of each key type, in RFC 7638 §3.2's (lexicographic) order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
};

/**
 * RFC 7638's SHA-256 thumbprint of a public key (base64url), as jose's calculateJwkThumbprint
 * makes it (test/clients/public-keys.test.ts holds them side by side), without awaiting: the
 * one thumbprint of Portier's client keys. Stored with a public-key credential, by which a
 * certificate's key finds its client and a key given twice is told; listed with it.
 * Undefined for a key type Portier does not register, or one missing a required member.
 */
export function jwkThumbprint(jwk: JWK): string | undefined {
  const members = jwk.kty === undefined ? undefined : THUMBPRINT_MEMBERS[jwk.kty];
  if (members === undefined) return undefined;
  const values = members.map((member) => (jwk as Record<string, unknown>)[member]);
  if (!values.every((value) => typeof value === 'string')) return undefined;
  // JSON of the required members only, in that order, without whitespace (RFC 7638 §3.3).
  const required = Object.fromEntries(members.map((member, i) => [member, values[i]]));
  return createHash('sha256').update(JSON.stringify(required)).digest('base64url');
}
