import { decodeJwt, type JWSHeaderParameters, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import type { DbOrTx } from '../db/connect.js';
import type { CacheChanges } from '../db/generation.js';
import {
  ASSERTION_CLOCK_SKEW_SECONDS,
  AssertionRejected,
  type ClientKeySet,
  clientKeySet,
  describeJoseError,
  JwksFetchError,
  readAssertionHeader,
  spendVerification,
  type UnverifiedAssertion,
  type VerificationKey,
} from '../keys/assertions.js';
import { Cached, CachedMap } from '../lib/cached.js';
import type { Clock } from '../lib/clock.js';
import { quoteParameter } from '../lib/redact.js';
import { isIdentitySubject } from './identities.js';
import { findClientsByIdentity } from './store.js';
import { loadTrustedIssuers, type TrustedIssuerRecord } from './trusted-issuers.js';

/**
 * A platform's JWT (a Kubernetes projected service-account token, a GitHub Actions OIDC
 * token, a SPIFFE JWT-SVID): its `iss` names a trusted issuer (trusted-issuers.ts), whose
 * keys verify it; its `sub` and claims name a client's identity (identities.ts). The same
 * checks serve the three places such a token is presented: as a federated client's
 * credentials (oauth/client-auth/federated.ts), as the subject token of a token exchange
 * and as the assertion of the JWT bearer grant (oauth/grants/).
 *
 * A platform token may be presented again within its lifetime: Kubernetes reuses a
 * projected token for up to an hour, so a one-time `jti` would break it (keycloak#44063).
 * What bounds a stolen token instead is the issuer's max_token_age, its own `exp`, the
 * audience (a token minted for Portier is useless elsewhere, and one minted for elsewhere
 * is useless here), and the client's IP ranges.
 */

/** How long the clients found for an issuer and subject are kept even if no change was signalled. */
const CANDIDATES_MAX_AGE_MS = 60_000;
/** Bound on memory: at most this many (issuer, subject) pairs are kept; the oldest goes first. */
const MAX_CACHED_SUBJECTS = 10_000;

/**
 * This instance's view of the trusted issuers (by their `iss`), and of which clients have
 * an identity of an issuer and subject, both loaded on first use and dropped whole when
 * the cache generation moves. Nothing is loaded until a platform token arrives.
 */
export class TrustedIssuerCache {
  private readonly byIssuer: Cached<Map<string, TrustedIssuerRecord>>;
  private readonly candidates: CachedMap<string, string[]>;
  /** The imported inline key set of each cached issuer: made once, gone with the record. */
  private readonly inlineKeys = new WeakMap<TrustedIssuerRecord, ClientKeySet>();

  constructor(db: DbOrTx, clock: Clock) {
    this.byIssuer = new Cached(async () => new Map((await loadTrustedIssuers(db)).map((record) => [record.issuer, record])));
    this.candidates = new CachedMap(
      (key) => {
        const [issuerId = '', subject = ''] = key.split('\u0000');
        return findClientsByIdentity(db, issuerId, subject);
      },
      { maxAgeMs: CANDIDATES_MAX_AGE_MS, maxEntries: MAX_CACHED_SUBJECTS, now: clock },
    );
  }

  /** The trusted issuer whose tokens carry exactly this `iss`, if any. */
  async find(iss: string): Promise<TrustedIssuerRecord | undefined> {
    return (await this.byIssuer.get()).get(iss);
  }

  /** The trusted issuer of this id, if any. */
  async findById(id: string): Promise<TrustedIssuerRecord | undefined> {
    for (const record of (await this.byIssuer.get()).values()) if (record.id === id) return record;
    return undefined;
  }

  /** The client_ids with an identity of this issuer and subject (an indexed query, then cached). */
  clientsWithIdentity(issuerId: string, subject: string): Promise<string[]> {
    return this.candidates.get(`${issuerId}\u0000${subject}`);
  }

  /** The issuer's inline keys (none for an issuer without), as jose selects among them. */
  inlineKeySet(issuer: TrustedIssuerRecord): ClientKeySet {
    let keys = this.inlineKeys.get(issuer);
    if (keys === undefined) {
      keys = clientKeySet(issuer.jwks ?? { keys: [] });
      this.inlineKeys.set(issuer, keys);
    }
    return keys;
  }

  /**
   * Forgets what a change made stale: the issuers when one changed, and which clients have
   * which identity when an issuer or any client changed (a client's new identity may make a
   * subject match, or match twice).
   */
  dropStale(changes: CacheChanges): void {
    if (changes.touches('trusted_issuers')) this.byIssuer.invalidate();
    if (changes.touches('trusted_issuers') || changes.touches('clients')) this.candidates.invalidate();
  }
}

/** Where an issuer's published keys come from (oauth/client-auth/remote-jwks.ts: cached, behind the SSRF fence). */
export interface IssuerKeySource {
  /** The key for `header`, or throws JwksFetchError (the set cannot be had) or a jose error (no usable key). */
  getKey(source: { jwksUri: string } | { discoveryFrom: string }, header: JWSHeaderParameters): Promise<VerificationKey>;
}

/** What checking a platform token needs. */
export interface PlatformTokenContext {
  clock: Clock;
  remoteJwks: IssuerKeySource;
  /** What a token's `aud` must contain when its issuer names no audience: Portier's ISSUER. */
  issuer: string;
  federation: TrustedIssuerCache;
}

/** Why a platform token was refused: `detail` for the log and audit trail only. */
export class PlatformTokenRejected extends Error {
  constructor(readonly detail: string) {
    super(detail);
  }
}

/**
 * Which use of a trusted issuer's tokens: a federated client's credentials (every trusted
 * issuer allows it), or a grant, each a flag of the issuer.
 */
export type PlatformTokenUse = 'client_authentication' | 'token_exchange' | 'jwt_bearer';

export interface VerifiedPlatformToken {
  issuer: TrustedIssuerRecord;
  claims: JWTPayload;
  subject: string;
}

/**
 * Checks a platform's JWT, or throws PlatformTokenRejected, whose detail says why. In order:
 * 1. its shape and size (at most 16 KiB), and an algorithm that is never `none` or HS*;
 * 2. its `iss` is a trusted issuer that allows this use, and its `alg` one that issuer allows;
 * 3. the issuer's key for its `kid` (inline, at the jwks_uri, or found by discovery);
 * 4. the signature; `iss` exactly; `aud` containing the issuer's audience (or Portier's
 *    ISSUER); `exp` present and not past, `nbf` reached, with 30 s of leeway; `iat` within
 *    max_token_age (a token without `iat` must expire within max_token_age);
 * 5. a `sub` that can be an identity's subject.
 * No database is asked about the token before its signature has verified. Every refusal
 * after step 1 and before the signature costs one signature verification on a decoy key,
 * so its timing says nothing about how far the token got.
 */
export async function verifyPlatformToken(ctx: PlatformTokenContext, token: string, use: PlatformTokenUse): Promise<VerifiedPlatformToken> {
  // A client's credentials are "platform token"s in the log; a grant's, plain "token"s.
  const asCredentials = use === 'client_authentication';
  let unverified: UnverifiedAssertion;
  try {
    unverified = readAssertionHeader(token);
  } catch (error) {
    if (!(error instanceof AssertionRejected)) throw error;
    throw new PlatformTokenRejected(asCredentials ? `platform token: ${error.message}` : error.message.replace('assertion', 'token'));
  }
  const { header } = unverified;
  const refuse = async (detail: string): Promise<never> => {
    await spendVerification(token, header);
    throw new PlatformTokenRejected(detail);
  };
  const iss = String(decodeJwt(token).iss);
  const issuer = await ctx.federation.find(iss);
  const label = asCredentials ? 'platform token' : 'token';
  if (issuer === undefined) return refuse(`${label} from ${quoteParameter(iss)}, which is not a trusted issuer`);
  const from = `${label} of trusted issuer "${issuer.id}"`;
  if (!issuerAllows(issuer, use)) return refuse(`${from}: the issuer does not allow ${use}`);
  if (!issuer.algorithms.some((alg) => alg === header.alg)) return refuse(`${from}: alg ${header.alg} is not one the issuer allows`);

  let key: VerificationKey;
  try {
    key = await issuerKey(ctx, issuer, header);
  } catch (error) {
    const problem = keyProblem(error, header);
    if (problem === undefined) throw error;
    return refuse(`${from}: ${problem}`);
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

function issuerAllows(issuer: TrustedIssuerRecord, use: PlatformTokenUse): boolean {
  if (use === 'token_exchange') return issuer.tokenExchange;
  if (use === 'jwt_bearer') return issuer.jwtBearer;
  return true;
}

/** The issuer's key for `header`: from its inline keys, its jwks_uri, or found by discovery. */
function issuerKey(ctx: PlatformTokenContext, issuer: TrustedIssuerRecord, header: JWSHeaderParameters): Promise<VerificationKey> {
  if (issuer.jwks !== null) return ctx.federation.inlineKeySet(issuer)(header);
  return ctx.remoteJwks.getKey(issuer.jwksUri !== null ? { jwksUri: issuer.jwksUri } : { discoveryFrom: issuer.issuer }, header);
}

/** Why no key of the issuer verifies this token, in words; undefined for an error that is not about the keys. */
function keyProblem(error: unknown, header: JWSHeaderParameters): string | undefined {
  if (error instanceof JwksFetchError) return `the issuer's keys cannot be had: ${error.message}`;
  if (error instanceof joseErrors.JWKSNoMatchingKey) {
    return `no key of the issuer matches kid ${quoteParameter(String(header.kid ?? ''))} and alg ${header.alg}`;
  }
  if (error instanceof joseErrors.JWKSMultipleMatchingKeys) return 'several keys of the issuer match a token without kid';
  if (error instanceof joseErrors.JOSEError) return `the issuer's keys are unusable: ${error.code}`;
  return undefined;
}

/**
 * Why a verified token is too old, or undefined: `iat` more than max_token_age ago or in
 * the future (with the leeway); without `iat`, an `exp` further ahead than max_token_age,
 * so that such a token cannot be used for longer than one with `iat` could.
 */
export function tokenAgeProblem(claims: JWTPayload, maxTokenAge: number, now: number): string | undefined {
  const skew = ASSERTION_CLOCK_SKEW_SECONDS;
  if (claims.iat === undefined) {
    if (Number(claims.exp) > now + maxTokenAge + skew) return `it has no iat and expires more than max_token_age (${maxTokenAge} s) ahead`;
    return undefined;
  }
  if (claims.iat > now + skew) return 'its iat is in the future';
  if (now - claims.iat > maxTokenAge + skew) return `it was issued more than max_token_age (${maxTokenAge} s) ago`;
  return undefined;
}
