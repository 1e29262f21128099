import { errors as joseErrors } from 'jose';
import {
  certificateKeyCredential,
  certificateMatches,
  certificateShows,
  findClientsByCertificate,
  isCertificateMethod,
} from '../../clients/certificates.js';
import type { ClientDirectory } from '../../clients/directory.js';
import type { ClientRecord, RegisteredKey } from '../../clients/record.js';
import { clientStatus, isValidClientId } from '../../clients/rules.js';
import type { SecretVerifier } from '../../clients/secret-verifier.js';
import { readPresentedSecret } from '../../clients/secrets.js';
import type { Db } from '../../db/connect.js';
import { isDatabaseUnavailable } from '../../db/errors.js';
import type { TrustedIssuerCache } from '../../federation/platform-tokens.js';
import {
  AssertionRejected,
  type ClientKeySet,
  clientKeySet,
  readAssertionHeader,
  spendVerification,
  type UnverifiedAssertion,
} from '../../keys/assertions.js';
import type { Clock } from '../../lib/clock.js';
import { isAddressAllowed } from '../../lib/networks.js';
import { quoteParameter } from '../../lib/redact.js';
import { Overloaded } from '../../protection/admission.js';
import type { FailureBudgets } from '../../protection/failure-budget.js';
import { certificateChainProblem, type TrustBundles } from '../../tls/spiffe.js';
import { tokenEndpointUrls } from '../endpoints.js';
import { InvalidClient, TooManyRequests } from '../errors.js';
import { CLIENT_ASSERTION_TYPE, verifyClientAssertion } from './client-assertion.js';
import type { CertificateCredentials, ClientCredentials } from './credentials.js';
import { checkFederatedAssertion, type FederatedAuthentication } from './federated.js';
import { claimJwtId } from './jwt-ids.js';
import { JwksFetchError, type RemoteJwks } from './remote-jwks.js';

/** Longest secret we will even look at; anything longer cannot be valid. */
const MAX_CREDENTIAL_LENGTH = 1024;

/** What client authentication works with; the token, introspection and revocation endpoints share it. */
export interface AuthenticationContext {
  clock: Clock;
  directory: ClientDirectory;
  verifier: SecretVerifier;
  budgets: FailureBudgets;
  /** An assertion's `aud` must name the issuer or its token endpoint. */
  issuer: string;
  /** MTLS_BASE_URL, where discovery publishes it: an assertion's `aud` may name the token endpoint's alias too (RFC 8705 §5). */
  mtlsAlias: string | undefined;
  /** Where used assertion ids are remembered (see claimJwtId). */
  db: Db;
  /** CLIENT_ASSERTION_MAX_LIFETIME: how far ahead an assertion's exp may be, in seconds. */
  assertionMaxLifetime: number;
  /** Key sets of clients registered with a jwks_uri, and of trusted issuers. */
  remoteJwks: RemoteJwks;
  /** The trusted issuers whose tokens federated clients sign in with. */
  federation: TrustedIssuerCache;
  /** SECRET_PREFIX: how self-identifying secrets start (see clients/secrets.ts). */
  secretPrefix: string;
  /** SPIFFE_TRUST_BUNDLES, as now read (tls/spiffe.ts); undefined: none. */
  trustBundles: TrustBundles | undefined;
}

/**
 * An authenticated client, and the credential it used (a secret or a registered key; none
 * for a jwks_uri); for one that signed in with its platform's JWT, which identity it was.
 */
export type Authentication = { client: ClientRecord; credentialId: string | undefined; identity?: undefined } | FederatedAuthentication;

/**
 * Authenticates the client, or throws. In order:
 * 1. a caller over its failure budget is refused with 429 before anything else is done,
 *    whether the client_id it names exists or not;
 * 2. the credentials are checked: a secret (checkCredentials), the client's own assertion
 *    (checkAssertion), or its platform's JWT (federated.ts);
 * 3. a failure spends the caller's budget; a success makes its budget for this client whole.
 */
export async function authenticateClient(
  ctx: AuthenticationContext,
  credentials: ClientCredentials,
  callerIp: string,
): Promise<Authentication> {
  const waitMs = ctx.budgets.waitMs(credentials.clientId, callerIp);
  if (waitMs > 0)
    throw new TooManyRequests(waitMs, { presentedClientId: isValidClientId(credentials.clientId) ? credentials.clientId : undefined });
  try {
    const authentication =
      credentials.method === 'federated'
        ? await checkFederatedAssertion(ctx, credentials, callerIp)
        : credentials.method === 'private_key_jwt'
          ? await checkAssertion(ctx, credentials, callerIp)
          : credentials.method === 'certificate'
            ? await checkCertificate(ctx, credentials, callerIp)
            : await checkCredentials(ctx, credentials, callerIp);
    ctx.budgets.succeeded(credentials.clientId, callerIp);
    return authentication;
  } catch (error) {
    if (error instanceof InvalidClient) ctx.budgets.failed(credentials.clientId, callerIp);
    throw error;
  }
}

/**
 * Checks the credentials, or throws InvalidClient. Every failure costs the same argon2id
 * work as a wrong secret (see SecretVerifier) and looks the same to the caller, but two
 * that no secret of the client could pass, decided without looking at any: a
 * self-identifying secret whose checksum or prefix is wrong (before any lookup), and one
 * naming a credential the client never had. The reason, with the credential id a secret
 * names, is in the error's private detail.
 */
async function checkCredentials(
  ctx: AuthenticationContext,
  credentials: Extract<ClientCredentials, { clientSecret: string }>,
  callerIp: string,
): Promise<{ client: ClientRecord; credentialId: string }> {
  const fail = async (detail: string, client?: ClientRecord): Promise<never> => {
    await ctx.verifier.refuse(credentials.clientId, credentials.clientSecret.slice(0, MAX_CREDENTIAL_LENGTH));
    const error = new InvalidClient(detail);
    throw client === undefined ? error : error.concerns({ clientId: client.clientId });
  };

  // Credentials that cannot be valid cost the same as any other failure, and are never
  // looked up: every client_id follows the client_id rule (which also keeps bytes such as
  // NUL, which PostgreSQL refuses in text, away from the database).
  if (!isValidClientId(credentials.clientId)) return fail('not a well-formed client_id');
  if (credentials.clientSecret === '') return fail('empty secret');
  if (credentials.clientSecret.length > MAX_CREDENTIAL_LENGTH) return fail('secret too long');
  // A typo or a forgery: refused before any database or argon2 work (the failure budget
  // still counts it). The checksum is public knowledge, so its refusal tells nothing.
  const read = readPresentedSecret(credentials.clientSecret, ctx.secretPrefix);
  if (read.form === 'forged') throw new InvalidClient(read.problem);
  const named = read.form === 'named' ? ` (credential ${read.credentialId})` : '';

  // Whatever the lookup found, argon2 would refuse this one (queue full): answer that now,
  // without the database query (see ClientDirectory.mayNeedArgon2).
  if (ctx.verifier.full && ctx.directory.mayNeedArgon2(credentials.clientId)) {
    throw new Overloaded('too much verification work queued');
  }
  const now = ctx.clock();
  const found = await ctx.directory.lookUp(credentials.clientId);
  // The one outcome without argon2id: a secret that verified before, of an active client,
  // from an address it may call from. The caller's address is checked before the secret
  // is recognised: otherwise an outsider holding the right secret would be answered faster
  // than one holding a wrong secret, and learn that the secret is good.
  if (found.record !== undefined && refusal(found.record, callerIp, now) === undefined) {
    const recognised = ctx.directory.recognise(found.record, credentials.clientSecret, now);
    if (recognised !== undefined) return { client: found.record, credentialId: recognised };
  }
  if (ctx.verifier.full) throw new Overloaded('too much verification work queued');
  // Every other outcome costs one argon2id verification and one database lookup, so that
  // its time does not tell a known client_id (usually cached) from a made-up one (seldom):
  // a record that came from the cache is looked up again. With the database unreachable,
  // the cached record serves (see "When the database is down" in docs/operations.md).
  const client = found.fromCache ? await reloaded(ctx, credentials.clientId, found.record) : found.record;
  if (client === undefined) return fail('unknown client');
  const refused = refusal(client, callerIp, now);
  if (refused !== undefined) return fail(`${refused}${named}`, client);
  // A credential of another client (or of none): no secret of this one can match. One
  // this client had (removed, revoked, expired) is verified against a dummy hash below,
  // costing what a wrong secret costs.
  if (read.form === 'named' && !client.credentialIds.has(read.credentialId)) {
    throw new InvalidClient(`secret of a credential this client does not have${named}`).concerns({ clientId: client.clientId });
  }
  const credentialId = await ctx.directory.verifySecret(client, credentials.clientSecret, now, read);
  if (credentialId === undefined) {
    throw new InvalidClient(`${wrongSecretReason(client, credentials, now)}${named}`).concerns({ clientId: client.clientId });
  }
  return { client, credentialId };
}

/** Why a client may not authenticate with a secret now, whatever secret it presents; undefined when it may. */
function refusal(client: ClientRecord, callerIp: string, now: number): string | undefined {
  if (client.authMethod !== 'client_secret') return `client authenticates with ${client.authMethod}, not a secret`;
  const status = clientStatus(client, now);
  if (status !== 'active') return `client is ${status}`;
  if (!isAddressAllowed(callerIp, client.networks)) return `caller ${callerIp} is outside the client's IP ranges`;
  return undefined;
}

/** The client's record looked up again (see checkCredentials); the cached one while the database is unreachable. */
async function reloaded(ctx: AuthenticationContext, clientId: string, cached: ClientRecord | undefined): Promise<ClientRecord | undefined> {
  try {
    return await ctx.directory.reload(clientId);
  } catch (error) {
    if (isDatabaseUnavailable(error)) return cached;
    throw error;
  }
}

/**
 * Why a secret failed, for the log and the audit trail (never the caller). Many clients
 * send the secret over HTTP Basic without the form-encoding RFC 6749 §2.3.1 asks for, so a
 * `+` in it arrives as is and is decoded to a space. When a failed Basic secret has a space
 * and a live secret of the client contains `+` (recorded when it was stored), the reason
 * says so; neither secret is ever part of it.
 */
function wrongSecretReason(client: ClientRecord, credentials: { method: string; clientSecret: string }, now: number): string {
  const plusMangled =
    credentials.method === 'client_secret_basic' &&
    credentials.clientSecret.includes(' ') &&
    client.secrets.some((secret) => secret.containsPlus && (secret.expiresAt === null || secret.expiresAt > now));
  if (!plusMangled) return 'wrong secret';
  return (
    "wrong secret; hint: it came over HTTP Basic with a space, and this client's secret contains '+', which a client " +
    'that does not form-encode the secret (RFC 6749 §2.3.1) sends as is and which decodes to a space: ' +
    'have the client use client_secret_post, or form-encode the secret'
  );
}

/**
 * Checks a client assertion (RFC 7523 §2.2, rules in client-assertion.ts), or throws
 * InvalidClient. No argon2 here: verifying a signature costs a fraction of a millisecond.
 * What an outsider could learn from is kept level instead: every failure is the same
 * InvalidClient, and a refusal decided before a key was looked at (an unknown, disabled or
 * secret-using client) spends a signature verification all the same.
 */
async function checkAssertion(
  ctx: AuthenticationContext,
  credentials: Extract<ClientCredentials, { method: 'private_key_jwt' }>,
  callerIp: string,
): Promise<{ client: ClientRecord; credentialId: string | undefined }> {
  const { assertion, clientId } = credentials;
  const reject = (detail: string, client?: ClientRecord): never => {
    const error = new InvalidClient(detail);
    throw client === undefined ? error : error.concerns({ clientId: client.clientId });
  };
  // RFC 6749 §5.2: an authentication method the server does not support is invalid_client.
  if (credentials.assertionType !== CLIENT_ASSERTION_TYPE) return reject('unsupported client_assertion_type');
  if (!isValidClientId(clientId)) return reject('not a well-formed client_id (or an assertion without iss)');
  let unverified: UnverifiedAssertion;
  try {
    unverified = readAssertionHeader(assertion);
  } catch (error) {
    if (error instanceof AssertionRejected) return reject(error.message);
    throw error;
  }
  const refuse = async (detail: string, client?: ClientRecord): Promise<never> => {
    await spendVerification(assertion, unverified.header);
    return reject(detail, client);
  };

  const client = await ctx.directory.find(clientId);
  if (client === undefined) return refuse('unknown client');
  if (client.authMethod !== 'private_key_jwt') return refuse(`client authenticates with ${client.authMethod}, not an assertion`, client);
  const now = ctx.clock();
  const status = clientStatus(client, now);
  if (status !== 'active') return refuse(`client is ${status}`, client);
  if (!isAddressAllowed(callerIp, client.networks)) return refuse(`caller ${callerIp} is outside the client's IP ranges`, client);

  let key: Awaited<ReturnType<ClientKeySet>>;
  try {
    key =
      client.jwksUri !== null
        ? await ctx.remoteJwks.getKey({ jwksUri: client.jwksUri }, unverified.header)
        : await registeredKeys(client, now)(unverified.header);
  } catch (error) {
    if (error instanceof JwksFetchError) return refuse(error.message, client);
    if (error instanceof joseErrors.JWKSNoMatchingKey)
      return refuse(
        `no registered key matches kid ${quoteParameter(String(unverified.header.kid ?? ''))} and alg ${unverified.header.alg}`,
        client,
      );
    if (error instanceof joseErrors.JWKSMultipleMatchingKeys)
      return refuse('several registered keys match: the assertion must name its kid', client);
    if (error instanceof joseErrors.JOSEError) return refuse(`registered keys unusable: ${error.code}`, client);
    throw error;
  }
  try {
    await verifyClientAssertion(assertion, key, unverified, {
      clientId: client.clientId,
      audiences: [ctx.issuer, ...tokenEndpointUrls(ctx.issuer, ctx.mtlsAlias)],
      now,
      maxLifetimeSeconds: ctx.assertionMaxLifetime,
      // Kept until the assertion expires, however long it lives: it is accepted once.
      claimJwtId: (jti, expiresAt) => claimJwtId(ctx.db, `client_assertion:${client.clientId}`, jti, expiresAt, new Date(now)),
    });
  } catch (error) {
    if (error instanceof AssertionRejected) return reject(error.message, client);
    throw error;
  }
  return { client, credentialId: client.jwksUri === null ? keyUsed(liveKeys(client, now), unverified.header.kid) : undefined };
}

function liveKeys(client: ClientRecord, now: number): RegisteredKey[] {
  return client.publicKeys.filter((key) => key.expiresAt === null || key.expiresAt > now);
}

/** The credential of the key an assertion was verified with: the only live key, or the one of its kid. */
function keyUsed(keys: RegisteredKey[], kid: unknown): string | undefined {
  if (keys.length === 1) return keys[0]?.id;
  const matching = keys.filter((key) => key.jwk.kid !== undefined && key.jwk.kid === kid);
  return matching.length === 1 ? matching[0]?.id : undefined;
}

/**
 * The imported key set of each cached record, with the time it holds until (the first
 * expiry of a key in it): made once, gone with the record, made again when a key expires.
 */
const keySets = new WeakMap<ClientRecord, { keys: ClientKeySet; until: number }>();

/** The client's live registered keys, as jose selects among them (see clientKeySet; one match or none). */
function registeredKeys(client: ClientRecord, now: number): ClientKeySet {
  const cached = keySets.get(client);
  if (cached !== undefined && now < cached.until) return cached.keys;
  const live = liveKeys(client, now);
  const keys = clientKeySet({ keys: live.map((key) => key.jwk) });
  const until = Math.min(Number.POSITIVE_INFINITY, ...live.flatMap((key) => (key.expiresAt === null ? [] : [key.expiresAt])));
  keySets.set(client, { keys, until });
  return keys;
}

/**
 * Checks a TLS client certificate (RFC 8705 §2), or throws InvalidClient. The client is the
 * one named by client_id, or, without one, the single client whose registration the
 * certificate matches (clients/certificates.ts). It must use a certificate method, be active
 * and called from its IP ranges; the certificate must be valid now (by the app's clock), show
 * the registered subject or SAN and chain to TLS_CLIENT_CA_FILE or come from the trusted proxy,
 * an X.509-SVID to its trust domain's bundle (tls_client_auth, tls/spiffe.ts), or carry one of the registered keys (self_signed_tls_client_auth). No
 * argon2: there is no secret to guess, and a certificate is checked in microseconds.
 */
async function checkCertificate(
  ctx: AuthenticationContext,
  credentials: CertificateCredentials,
  callerIp: string,
): Promise<{ client: ClientRecord; credentialId: string | undefined }> {
  const reject = (detail: string, client?: ClientRecord): never => {
    const error = new InvalidClient(detail);
    throw client === undefined ? error : error.concerns({ clientId: client.clientId });
  };
  const { presented, requestedClientId } = credentials;
  const shows = certificateShows(presented.certificate);
  if (shows === undefined) return reject('the client certificate cannot be read');
  let client: ClientRecord | undefined;
  if (requestedClientId !== undefined) {
    if (!isValidClientId(requestedClientId)) return reject('not a well-formed client_id');
    client = await ctx.directory.find(requestedClientId);
    if (client === undefined) return reject('unknown client');
  } else {
    const candidates = await findClientsByCertificate(ctx.db, shows, ctx.clock());
    if (candidates.length === 0) return reject('the client certificate matches no client');
    if (candidates.length > 1)
      return reject(`the client certificate matches ${candidates.length > 20 ? 'over 20' : candidates.length} clients: send client_id`);
    client = await ctx.directory.find(candidates[0] as string);
    if (client === undefined) return reject('unknown client');
  }
  if (!isCertificateMethod(client.authMethod)) return reject(`client authenticates with ${client.authMethod}, not a certificate`, client);
  const now = ctx.clock();
  const status = clientStatus(client, now);
  if (status !== 'active') return reject(`client is ${status}`, client);
  if (!isAddressAllowed(callerIp, client.networks)) return reject(`caller ${callerIp} is outside the client's IP ranges`, client);
  const { certificate } = presented;
  if (now < Date.parse(certificate.validFrom)) return reject(`the client certificate is not valid before ${certificate.validFrom}`, client);
  if (now > Date.parse(certificate.validTo)) return reject(`the client certificate expired at ${certificate.validTo}`, client);
  if (client.authMethod === 'tls_client_auth') {
    const problem = certificateChainProblem(presented, ctx.trustBundles, now);
    if (problem !== undefined) return reject(problem, client);
  }
  if (client.authMethod === 'self_signed_tls_client_auth') {
    const credentialId = certificateKeyCredential(liveKeys(client, now), shows);
    if (credentialId === undefined) return reject("the client certificate's key is none of the client's registered keys", client);
    return { client, credentialId };
  }
  if (!certificateMatches(client.tlsIdentities, shows)) {
    return reject("the client certificate does not show the client's registered subject or SAN", client);
  }
  return { client, credentialId: undefined };
}
