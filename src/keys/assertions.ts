import {
  type CryptoKey,
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  generateKeyPair,
  type JSONWebKeySet,
  type JWK,
  type JWSHeaderParameters,
  jwtVerify,
  type ProtectedHeaderParameters,
} from 'jose';
import { quoteParameter } from '../lib/redact.js';
import { PRIVATE_JWK_MEMBERS } from '../schemas/clients.js';
import { ASSERTION_ALGORITHMS } from '../schemas/enums.js';

/**
 * What every JWT that another party signed goes through before Portier trusts it, a
 * client's own assertion (oauth/client-auth/client-assertion.ts) or a platform's token
 * (federation/platform-tokens.ts): its header read and refuted early, the key sets jose
 * selects from, jose's reasons in words, and the decoy verification that keeps a refusal's
 * timing quiet. Here, below both, so that neither imports the other.
 */

/** The signature algorithms an assertion may use (schemas/enums.ts says why these). */
export type AssertionAlg = (typeof ASSERTION_ALGORITHMS)[number];

/** How far the client's clock may be from ours, for exp, nbf and iat. */
export const ASSERTION_CLOCK_SKEW_SECONDS = 30;
/** Longer than any honest assertion (a few hundred bytes; a few KiB with an RSA-4096 x5c). */
export const MAX_ASSERTION_LENGTH = 16 * 1024;

/** An assertion that does not authenticate its client; the message is the reason, for log and audit only. */
export class AssertionRejected extends Error {
  override readonly name = 'AssertionRejected';
}

/** What can be read from an assertion before it is verified: enough to find the client and its key. */
export interface UnverifiedAssertion {
  header: ProtectedHeaderParameters & { alg: AssertionAlg };
}

/**
 * Reads the header of `assertion` without verifying anything, and checks what the header
 * alone can refute: the shape (a compact JWS), the algorithm, and a key carried in the
 * header (never used: keys come from the client's registration only).
 */
export function readAssertionHeader(assertion: string): UnverifiedAssertion {
  if (assertion.length > MAX_ASSERTION_LENGTH) throw new AssertionRejected('assertion too long');
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(assertion)) throw new AssertionRejected('assertion is not a compact JWS');
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(assertion);
    decodeJwt(assertion);
  } catch {
    throw new AssertionRejected('assertion is not a JWT');
  }
  const alg = header.alg;
  if (!isAssertionAlg(alg)) throw new AssertionRejected(`assertion alg ${quoteParameter(String(alg))} is not allowed`);
  const embedded = header.jwk as Record<string, unknown> | undefined;
  if (embedded !== undefined && PRIVATE_JWK_MEMBERS.some((member) => member in embedded)) {
    // The client has published its private key: whatever that key signs proves nothing.
    throw new AssertionRejected('assertion header carries a jwk with private key material');
  }
  return { header: { ...header, alg } };
}

function isAssertionAlg(alg: unknown): alg is AssertionAlg {
  return ASSERTION_ALGORITHMS.some((allowed) => allowed === alg);
}

export type VerificationKey = Parameters<typeof jwtVerify>[1];

/** A client's public keys, as jose selects among them for an assertion's header (by kid, kty, crv and alg). */
export type ClientKeySet = ReturnType<typeof createLocalJWKSet>;

/**
 * The key set of a client's registered or published keys. A key's `alg` binds it to that
 * algorithm, with one exception: `EdDSA` (RFC 8037's name, which key tools still write)
 * and `Ed25519` (RFC 9864's) are the same signature with an Ed25519 key, so an Ed25519 key
 * marked with either serves assertions under either name. Such a key is offered to jose
 * without its `alg`, which lets it match exactly those two: only they take an OKP key on
 * that curve.
 */
export function clientKeySet(jwks: JSONWebKeySet): ClientKeySet {
  return createLocalJWKSet({ keys: jwks.keys.map(eitherEd25519Name) });
}

function eitherEd25519Name(jwk: JWK): JWK {
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || (jwk.alg !== 'EdDSA' && jwk.alg !== 'Ed25519')) return jwk;
  const { alg: _either, ...rest } = jwk;
  return rest;
}

/** jose's reason, which names the claim or check but never carries the token or its values. */
export function describeJoseError(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'has expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `claim check failed: ${error.message}`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature does not verify';
  if (error instanceof errors.JOSEError) return `is invalid: ${error.code}: ${error.message}`;
  // WebCrypto's own refusals (a key that cannot verify this algorithm) are the assertion's fault too.
  return `could not be verified: ${error instanceof Error ? error.name : 'unknown error'}`;
}

/** Throwaway keys, one per algorithm, made on first use. */
const decoyKeys = new Map<AssertionAlg, Promise<CryptoKey>>();

/**
 * Spends what verifying the assertion's signature costs, against a key nobody has, for a
 * refusal decided before any key was looked at (an unknown client, a disabled one…): the
 * time of a refusal then says nothing about whether the client_id exists.
 */
export async function spendVerification(assertion: string, header: JWSHeaderParameters & { alg: AssertionAlg }): Promise<void> {
  let key = decoyKeys.get(header.alg);
  if (key === undefined) {
    key = generateKeyPair(header.alg).then((pair) => pair.publicKey);
    decoyKeys.set(header.alg, key);
  }
  await jwtVerify(assertion, await key, { algorithms: [header.alg] }).catch(() => undefined);
}

/** Why a remote key set could not be had; the message is the reason for the log, never for the caller. */
export class JwksFetchError extends Error {
  override readonly name = 'JwksFetchError';
}
