import { decodeJwt, type JWTPayload, jwtVerify } from 'jose';
import {
  ASSERTION_CLOCK_SKEW_SECONDS,
  AssertionRejected,
  describeJoseError,
  type UnverifiedAssertion,
  type VerificationKey,
} from '../../keys/assertions.js';
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
