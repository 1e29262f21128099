import { decodeJwt, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { isIdentitySubject } from '../../clients/identities.js';
import type { TrustedIssuerRecord } from '../../federation/trusted-issuers.js';
import { quoteParameter } from '../../lib/redact.js';
import {
  ASSERTION_CLOCK_SKEW_SECONDS,
  AssertionRejected,
  describeJoseError,
  readAssertionHeader,
  spendVerification,
  type UnverifiedAssertion,
} from '../client-auth/client-assertion.js';
import { type FederationContext, tokenAgeProblem } from '../client-auth/federated.js';
import { JwksFetchError, type RemoteJwks } from '../client-auth/remote-jwks.js';

/**
 * A trusted issuer's JWT presented as a grant rather than as a client's credentials: the
 * subject token of a token exchange, or the assertion of the JWT bearer grant. Checked as
 * federation checks a platform token (oauth/client-auth/federated.ts, whose helpers this
 * uses): its shape and algorithm, an issuer that is trusted and allows this use, the
 * issuer's key, the signature, `iss`, `aud` (the issuer's audience, or Portier's ISSUER),
 * `exp`/`nbf` with 30 s of leeway, `iat` within max_token_age, and a `sub` that can be an
 * identity's subject. A refusal before the signature spends one verification on a decoy
 * key, so its timing says nothing about how far the token got.
 */

/** Why a platform token was refused: `detail` for the log and audit trail only. */
export class PlatformTokenRejected extends Error {
  constructor(readonly detail: string) {
    super(detail);
  }
}

/** Which use of a trusted issuer's tokens: each is a flag of the issuer. */
export type PlatformTokenUse = 'token_exchange' | 'jwt_bearer';

export interface VerifiedPlatformToken {
  issuer: TrustedIssuerRecord;
  claims: JWTPayload;
  subject: string;
}

export async function verifyPlatformToken(
  ctx: Pick<FederationContext, 'clock' | 'remoteJwks' | 'issuer' | 'federation'>,
  token: string,
  use: PlatformTokenUse,
): Promise<VerifiedPlatformToken> {
  let unverified: UnverifiedAssertion;
  try {
    unverified = readAssertionHeader(token);
  } catch (error) {
    if (error instanceof AssertionRejected) throw new PlatformTokenRejected(error.message.replace('assertion', 'token'));
    throw error;
  }
  const { header } = unverified;
  const refuse = async (detail: string): Promise<never> => {
    await spendVerification(token, header);
    throw new PlatformTokenRejected(detail);
  };
  const iss = String(decodeJwt(token).iss);
  const issuer = await ctx.federation.find(iss);
  if (issuer === undefined) return refuse(`token from ${quoteParameter(iss)}, which is not a trusted issuer`);
  const from = `token of trusted issuer "${issuer.id}"`;
  const allowed = use === 'token_exchange' ? issuer.tokenExchange : issuer.jwtBearer;
  if (!allowed) return refuse(`${from}: the issuer does not allow ${use}`);
  if (!issuer.algorithms.some((alg) => alg === header.alg)) return refuse(`${from}: alg ${header.alg} is not one the issuer allows`);

  let key: Awaited<ReturnType<RemoteJwks['getKey']>>;
  try {
    key =
      issuer.jwks !== null
        ? await ctx.federation.inlineKeySet(issuer)(header)
        : await ctx.remoteJwks.getKey(issuer.jwksUri !== null ? { jwksUri: issuer.jwksUri } : { discoveryFrom: issuer.issuer }, header);
  } catch (error) {
    if (error instanceof JwksFetchError) return refuse(`${from}: the issuer's keys cannot be had: ${error.message}`);
    if (error instanceof joseErrors.JOSEError) return refuse(`${from}: no usable key of the issuer for this token: ${error.code}`);
    throw error;
  }
  const now = ctx.clock();
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, key, {
      algorithms: [header.alg],
      issuer: issuer.issuer,
      audience: issuer.audience ?? ctx.issuer,
      currentDate: new Date(now),
      clockTolerance: ASSERTION_CLOCK_SKEW_SECONDS,
      requiredClaims: ['exp', 'sub'],
    }));
  } catch (error) {
    throw new PlatformTokenRejected(`${from}: the token ${describeJoseError(error)}`);
  }
  const ageProblem = tokenAgeProblem(claims, issuer.maxTokenAge, Math.floor(now / 1000));
  if (ageProblem !== undefined) throw new PlatformTokenRejected(`${from}: ${ageProblem}`);
  if (!isIdentitySubject(claims.sub)) throw new PlatformTokenRejected(`${from}: its sub cannot be the subject of an identity`);
  return { issuer, claims, subject: claims.sub };
}
