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
  type JWTPayload,
  jwtVerify,
  type ProtectedHeaderParameters,
} from 'jose';
import { quoteParameter } from '../../lib/redact.js';
import { PRIVATE_JWK_MEMBERS } from '../../schemas/clients.js';
import { ASSERTION_ALGORITHMS } from '../../schemas/enums.js';
import { isStorableJwtId, MAX_JWT_ID_LENGTH } from './jwt-ids.js';

/** RFC 7523 §2.2: the client_assertion_type of a JWT client assertion. */
export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * The signature algorithms a client assertion may use (schemas/enums.ts says why these),
 * and what discovery lists as token_endpoint_auth_signing_alg_values_supported: the same
 * for a private_key_jwt client's assertion and for a platform's JWT.
 */
export const ASSERTION_SIGNING_ALGS = ASSERTION_ALGORITHMS;
type AssertionAlg = (typeof ASSERTION_SIGNING_ALGS)[number];

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
  return ASSERTION_SIGNING_ALGS.some((allowed) => allowed === alg);
}

/** Who an assertion claims to come from and be about (its `iss` and `sub`), unverified; '' for what it lacks. */
export function claimedIdentity(assertion: string): { iss: string; sub: string } {
  try {
    const { iss, sub } = decodeJwt(assertion);
    return { iss: typeof iss === 'string' ? iss : '', sub: typeof sub === 'string' ? sub : '' };
  } catch {
    return { iss: '', sub: '' };
  }
}

/**
 * Whether an assertion's `iss` names a platform rather than a client: a trusted issuer is
 * an https URL, and a client_id never contains ':' (CLIENT_ID_PATTERN), so an `iss` with
 * one is a platform's JWT (federated.ts), one without a client's own (RFC 7523, here).
 */
export function isPlatformIssuer(iss: string): boolean {
  return iss.includes(':');
}

type VerificationKey = Parameters<typeof jwtVerify>[1];

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

export interface AssertionExpectations {
  clientId: string;
  /** What `aud` must name (one of): the issuer and the token endpoint URL. */
  audiences: string[];
  /** Now, in milliseconds. */
  now: number;
  /**
   * How far ahead `exp` may be (CLIENT_ASSERTION_MAX_LIFETIME, seconds). Authlib makes
   * assertions valid for an hour; a long lifetime adds no replay risk, as the jti is kept
   * until `exp` and the assertion is accepted once.
   */
  maxLifetimeSeconds: number;
  /** Records the jti as used; false when it was used before (see claimJwtId). */
  claimJwtId(jti: string, expiresAt: Date): Promise<boolean>;
}

/**
 * Verifies a client assertion (RFC 7523 §3) with `key`, the client's registered key that
 * its header selects, or throws AssertionRejected:
 * the signature, with the header's algorithm from ASSERTION_SIGNING_ALGS;
 * `iss` and `sub` both the client_id; `aud` naming the issuer or the token endpoint;
 * `exp` present, not past, and at most `maxLifetimeSeconds` ahead (and, with `iat`, not
 * claiming a longer life); `nbf` and `iat` not in the future; all three with
 * ASSERTION_CLOCK_SKEW_SECONDS of leeway; `jti` present, and never seen before for this
 * client, on any instance (the database remembers it until the assertion expires).
 * The jti is recorded last, so an assertion refused for another reason does not use it up.
 */
export async function verifyClientAssertion(
  assertion: string,
  key: VerificationKey,
  { header }: UnverifiedAssertion,
  expected: AssertionExpectations,
): Promise<void> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(assertion, key, {
      algorithms: [header.alg],
      issuer: expected.clientId,
      subject: expected.clientId,
      audience: expected.audiences,
      currentDate: new Date(expected.now),
      clockTolerance: ASSERTION_CLOCK_SKEW_SECONDS,
      requiredClaims: ['exp', 'jti'],
    }));
  } catch (error) {
    throw new AssertionRejected(`assertion ${describeJoseError(error)}`);
  }
  const now = Math.floor(expected.now / 1000);
  const exp = payload.exp as number;
  const maxLifetime = expected.maxLifetimeSeconds;
  if (exp > now + maxLifetime + ASSERTION_CLOCK_SKEW_SECONDS) {
    throw new AssertionRejected(`assertion exp is more than ${maxLifetime} s ahead (CLIENT_ASSERTION_MAX_LIFETIME)`);
  }
  if (payload.iat !== undefined) {
    if (payload.iat > now + ASSERTION_CLOCK_SKEW_SECONDS) throw new AssertionRejected('assertion iat is in the future');
    if (exp - payload.iat > maxLifetime + ASSERTION_CLOCK_SKEW_SECONDS) {
      throw new AssertionRejected(`assertion claims a lifetime of more than ${maxLifetime} s (CLIENT_ASSERTION_MAX_LIFETIME)`);
    }
  }
  const { jti } = payload;
  if (!isStorableJwtId(jti)) {
    throw new AssertionRejected(`assertion jti must be a string of 1 to ${MAX_JWT_ID_LENGTH} characters, without control characters`);
  }
  if (!(await expected.claimJwtId(jti, new Date(exp * 1000)))) throw new AssertionRejected('assertion jti was used before (replay)');
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
