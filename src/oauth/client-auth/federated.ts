import { decodeJwt, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import type { ClientDirectory } from '../../clients/directory.js';
import { type FederatedIdentityUse, findClientsByIdentity, identityMatches, isIdentitySubject } from '../../clients/identities.js';
import type { ClientRecord } from '../../clients/record.js';
import { clientStatus, isValidClientId } from '../../clients/rules.js';
import type { DbOrTx } from '../../db/connect.js';
import type { CacheChanges } from '../../db/generation.js';
import { loadTrustedIssuers, type TrustedIssuerRecord } from '../../federation/trusted-issuers.js';
import { Cached, CachedMap } from '../../lib/cached.js';
import type { Clock } from '../../lib/clock.js';
import { isAddressAllowed } from '../../lib/networks.js';
import { quoteParameter, redactSecrets } from '../../lib/redact.js';
import { InvalidClient } from '../errors.js';
import {
  ASSERTION_CLOCK_SKEW_SECONDS,
  AssertionRejected,
  CLIENT_ASSERTION_TYPE,
  type ClientKeySet,
  clientKeySet,
  describeJoseError,
  readAssertionHeader,
  spendVerification,
  type UnverifiedAssertion,
} from './client-assertion.js';
import type { FederatedCredentials } from './credentials.js';
import { JwksFetchError, type RemoteJwks } from './remote-jwks.js';

/**
 * Federated client authentication: a workload signs in with the JWT its platform already
 * gives it (a Kubernetes projected service-account token, a GitHub Actions OIDC token, a
 * SPIFFE JWT-SVID) as its RFC 7523 client assertion. The token's `iss` names a trusted
 * issuer (federation/trusted-issuers.ts), whose keys verify it; its `sub` and claims name
 * the client (clients/identities.ts).
 *
 * A platform token may be presented again within its lifetime: Kubernetes reuses a
 * projected token for up to an hour, so a one-time `jti` would break it (keycloak#44063).
 * What bounds a stolen token instead is the issuer's max_token_age, its own `exp`, the
 * audience (a token minted for Portier is useless elsewhere, and one minted for elsewhere
 * is useless here), and the client's IP ranges.
 */

/** What the federated check needs beyond what every client authentication has. */
export interface FederationContext {
  clock: Clock;
  directory: ClientDirectory;
  remoteJwks: RemoteJwks;
  /** What a token's `aud` must contain when its issuer names no audience: Portier's ISSUER. */
  issuer: string;
  federation: TrustedIssuerCache;
}

/** How long the clients found for an issuer and subject are kept even if no change was signalled. */
const CANDIDATES_MAX_AGE_MS = 60_000;
/** Bound on memory: at most this many (issuer, subject) pairs are kept; the oldest goes first. */
const MAX_CACHED_SUBJECTS = 10_000;

/**
 * This instance's view of the trusted issuers (by their `iss`), and of which clients have
 * an identity of an issuer and subject, both loaded on first use and dropped whole when
 * the cache generation moves. Nothing is loaded until a federated assertion arrives.
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

/** A client that signed in with a platform's JWT, and which of its identities it was. */
export interface FederatedAuthentication {
  client: ClientRecord;
  /** A federated client holds no credential of its own. */
  credentialId?: undefined;
  identity: FederatedIdentityUse;
}

/**
 * Checks a platform's JWT presented as a client assertion, or throws InvalidClient, whose
 * private detail says why. In order:
 * 1. its shape and size (at most 16 KiB), and an algorithm that is never `none` or HS*;
 * 2. its `iss` is a trusted issuer, and its `alg` one that issuer allows;
 * 3. the issuer's key for its `kid` (inline, at the jwks_uri, or found by discovery);
 * 4. the signature; `iss` exactly; `aud` containing the issuer's audience (or Portier's
 *    ISSUER); `exp` present and not past, `nbf` reached, with 30 s of leeway; `iat` within
 *    max_token_age (a token without `iat` must expire within max_token_age);
 * 5. the client: the one named by client_id, whose identities must match the token, or
 *    else the single client with an identity matching it (found by issuer and subject);
 * 6. that client active and the caller within its IP ranges.
 * No database is asked about the token before its signature has verified. Every refusal
 * after step 1 costs one signature verification, real or spent on a decoy key, so its
 * timing says nothing about how far the token got.
 */
export async function checkFederatedAssertion(
  ctx: FederationContext,
  credentials: FederatedCredentials,
  callerIp: string,
): Promise<FederatedAuthentication> {
  const { assertion } = credentials;
  const reject = (detail: string, client?: ClientRecord): never => {
    const error = new InvalidClient(detail);
    throw client === undefined ? error : error.concerns({ clientId: client.clientId });
  };
  if (credentials.assertionType !== CLIENT_ASSERTION_TYPE) return reject('unsupported client_assertion_type');
  let unverified: UnverifiedAssertion;
  try {
    unverified = readAssertionHeader(assertion);
  } catch (error) {
    if (error instanceof AssertionRejected) return reject(`platform token: ${error.message}`);
    throw error;
  }
  const { header } = unverified;
  const refuse = async (detail: string): Promise<never> => {
    await spendVerification(assertion, header);
    return reject(detail);
  };

  const iss = String(decodeJwt(assertion).iss);
  const issuer = await ctx.federation.find(iss);
  if (issuer === undefined) return refuse(`platform token from ${quoteParameter(iss)}, which is not a trusted issuer`);
  const from = `platform token of trusted issuer "${issuer.id}"`;
  if (!issuer.algorithms.some((alg) => alg === header.alg)) return refuse(`${from}: alg ${header.alg} is not one the issuer allows`);

  let key: Awaited<ReturnType<RemoteJwks['getKey']>>;
  try {
    key =
      issuer.jwks !== null
        ? await ctx.federation.inlineKeySet(issuer)(header)
        : await ctx.remoteJwks.getKey(issuer.jwksUri !== null ? { jwksUri: issuer.jwksUri } : { discoveryFrom: issuer.issuer }, header);
  } catch (error) {
    if (error instanceof JwksFetchError) return refuse(`${from}: the issuer's keys cannot be had: ${error.message}`);
    if (error instanceof joseErrors.JWKSNoMatchingKey) {
      return refuse(`${from}: no key of the issuer matches kid ${quoteParameter(String(header.kid ?? ''))} and alg ${header.alg}`);
    }
    if (error instanceof joseErrors.JWKSMultipleMatchingKeys)
      return refuse(`${from}: several keys of the issuer match a token without kid`);
    if (error instanceof joseErrors.JOSEError) return refuse(`${from}: the issuer's keys are unusable: ${error.code}`);
    throw error;
  }

  const now = ctx.clock();
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(assertion, key, {
      algorithms: [header.alg],
      issuer: issuer.issuer,
      audience: issuer.audience ?? ctx.issuer,
      currentDate: new Date(now),
      clockTolerance: ASSERTION_CLOCK_SKEW_SECONDS,
      requiredClaims: ['exp', 'sub'],
    }));
  } catch (error) {
    return reject(`${from}: the token ${describeJoseError(error)}`);
  }
  const ageProblem = tokenAgeProblem(claims, issuer.maxTokenAge, Math.floor(now / 1000));
  if (ageProblem !== undefined) return reject(`${from}: ${ageProblem}`);
  const subject = claims.sub;
  if (!isIdentitySubject(subject)) {
    return reject(`${from}: its sub cannot be the subject of an identity`);
  }
  const identity = `${from} for subject ${JSON.stringify(redactSecrets(subject))}`;

  const client = await findClient(ctx, credentials.requestedClientId, issuer, claims, identity);
  const status = clientStatus(client, now);
  if (status !== 'active') return reject(`client is ${status}`, client);
  if (!isAddressAllowed(callerIp, client.networks)) return reject(`caller ${callerIp} is outside the client's IP ranges`, client);
  return { client, identity: { issuer: issuer.id, subject } };
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

/**
 * The client the verified token signs in: the one named by `requestedClientId`, which must
 * be federated with an identity of this issuer matching the token; without a client_id,
 * the single client with such an identity. Throws InvalidClient otherwise.
 */
async function findClient(
  ctx: FederationContext,
  requestedClientId: string | undefined,
  issuer: TrustedIssuerRecord,
  claims: JWTPayload,
  identity: string,
): Promise<ClientRecord> {
  const matches = (client: ClientRecord) =>
    client.authMethod === 'federated' &&
    client.federatedIdentities.some((candidate) => candidate.issuerId === issuer.id && identityMatches(candidate, claims));
  if (requestedClientId !== undefined) {
    if (!isValidClientId(requestedClientId)) throw new InvalidClient(`${identity}: not a well-formed client_id`);
    const client = await ctx.directory.find(requestedClientId);
    if (client === undefined) throw new InvalidClient(`${identity}: unknown client`);
    if (client.authMethod !== 'federated') {
      throw new InvalidClient(`${identity}: client authenticates with ${client.authMethod}, not a platform token`).concerns({
        clientId: client.clientId,
      });
    }
    if (!matches(client)) {
      throw new InvalidClient(`${identity}: no federated identity of the client matches the token`).concerns({ clientId: client.clientId });
    }
    return client;
  }
  const candidates = await ctx.federation.clientsWithIdentity(issuer.id, String(claims.sub));
  const found: ClientRecord[] = [];
  for (const clientId of candidates) {
    const client = await ctx.directory.find(clientId);
    if (client !== undefined && matches(client)) found.push(client);
  }
  const [only, another] = found;
  if (only === undefined) throw new InvalidClient(`${identity}: no client has an identity matching the token`);
  if (another !== undefined) {
    throw new InvalidClient(
      `${identity}: several clients have an identity matching the token (${found.map((c) => c.clientId).join(', ')}); send client_id`,
    );
  }
  return only;
}
