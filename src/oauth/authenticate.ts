import { createLocalJWKSet, errors as joseErrors } from 'jose';
import { clientStatus, isValidClientId } from '../clients/rules.js';
import type { Db } from '../db/connect.js';
import type { Clock } from '../lib/clock.js';
import { isAddressAllowed } from '../lib/networks.js';
import { quoteParameter } from '../lib/redact.js';
import { Overloaded } from '../protection/admission.js';
import type { FailureBudgets } from '../protection/failure-budget.js';
import {
  AssertionRejected,
  CLIENT_ASSERTION_TYPE,
  claimedClientId,
  readAssertionHeader,
  spendVerification,
  type UnverifiedAssertion,
  verifyClientAssertion,
} from './client-assertion.js';
import type { ClientDirectory, ClientRecord } from './client-directory.js';
import { tokenEndpointUrl } from './endpoints.js';
import { InvalidClient, InvalidRequest, TooManyRequests } from './errors.js';
import { claimJwtId } from './jwt-ids.js';
import type { TokenParameters } from './parameters.js';
import { JwksFetchError, type RemoteJwks } from './remote-jwks.js';
import type { SecretVerifier } from './secret-verifier.js';

export type ClientCredentials =
  | { method: 'client_secret_basic' | 'client_secret_post'; clientId: string; clientSecret: string }
  /** RFC 7523 §2.2. clientId: the client_id sent, or else the assertion's (unverified) `iss`. */
  | { method: 'private_key_jwt'; clientId: string; assertion: string; assertionType: string };

/** Longest secret we will even look at; anything longer cannot be valid. */
const MAX_CREDENTIAL_LENGTH = 1024;

/**
 * RFC 6749 §2.3.1: with HTTP Basic, the client_id and secret are each
 * application/x-www-form-urlencoded before being joined with ':' and base64-encoded.
 * Returns undefined when there is no Authorization header.
 */
export function parseBasicAuthorization(header: string | undefined): { clientId: string; clientSecret: string } | undefined {
  if (header === undefined) return undefined;
  const match = /^Basic +([A-Za-z0-9+/]*={0,2}) *$/i.exec(header);
  if (match === null) {
    if (/^Basic\b/i.test(header)) throw new InvalidRequest('malformed Basic authorization header: not base64');
    throw new InvalidRequest('unsupported authorization scheme on the token endpoint: use Basic');
  }
  const encoded = match[1] ?? '';
  if (encoded === '') throw new InvalidRequest('malformed Basic authorization header: empty credentials');
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new InvalidRequest('malformed Basic authorization header: no ":" between client_id and secret');
  return {
    clientId: formDecode(decoded.slice(0, colon), 'client_id'),
    clientSecret: formDecode(decoded.slice(colon + 1), 'client_secret'),
  };
}

function formDecode(value: string, what: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw new InvalidRequest(`malformed Basic authorization header: ${what} has an invalid percent-escape`);
  }
}

/**
 * Works out how the client authenticates. Exactly one method per request: Basic and a
 * body secret together are refused (RFC 6749 §2.3). A client_id in the body alongside
 * Basic is tolerated only when it names the same client.
 */
export function readClientCredentials(authorization: string | undefined, params: TokenParameters): ClientCredentials {
  const basic = parseBasicAuthorization(authorization);
  if (params.client_assertion !== undefined || params.client_assertion_type !== undefined) {
    if (basic !== undefined || params.client_secret !== undefined) {
      throw new InvalidRequest('use exactly one client authentication method: a secret or a client assertion');
    }
    if (params.client_assertion === undefined || params.client_assertion_type === undefined) {
      throw new InvalidRequest('client_assertion and client_assertion_type must be sent together');
    }
    // A client_id that does not match the assertion is refused by the assertion check
    // (iss and sub must be the client_id), as a failed authentication of that client_id.
    return {
      method: 'private_key_jwt',
      clientId: params.client_id ?? claimedClientId(params.client_assertion),
      assertion: params.client_assertion,
      assertionType: params.client_assertion_type,
    };
  }
  if (basic !== undefined) {
    if (params.client_secret !== undefined) {
      throw new InvalidRequest('use exactly one client authentication method: HTTP Basic or client_secret in the body');
    }
    if (params.client_id !== undefined && params.client_id !== basic.clientId) {
      throw new InvalidRequest('client_id in the body does not match the Authorization header');
    }
    return { method: 'client_secret_basic', ...basic };
  }
  if (params.client_id === undefined) throw new InvalidClient('no client authentication');
  if (params.client_secret === undefined) throw new InvalidClient('client_id without client_secret');
  return { method: 'client_secret_post', clientId: params.client_id, clientSecret: params.client_secret };
}

/** What client authentication works with; the token, introspection and revocation endpoints share it. */
export interface AuthenticationContext {
  clock: Clock;
  directory: ClientDirectory;
  verifier: SecretVerifier;
  budgets: FailureBudgets;
  /** An assertion's `aud` must name the issuer or its token endpoint. */
  issuer: string;
  /** Where used assertion ids are remembered (see claimJwtId). */
  db: Db;
  /** Key sets of clients registered with a jwks_uri. */
  remoteJwks: RemoteJwks;
}

/**
 * Authenticates the client, or throws. In order:
 * 1. a caller over its failure budget is refused with 429 before anything else is done,
 *    whether the client_id it names exists or not;
 * 2. the credentials are checked (see checkCredentials);
 * 3. a failure spends the caller's budget; a success makes its budget for this client whole.
 */
export async function authenticateClient(
  ctx: AuthenticationContext,
  credentials: ClientCredentials,
  callerIp: string,
): Promise<ClientRecord> {
  const waitMs = ctx.budgets.waitMs(credentials.clientId, callerIp);
  if (waitMs > 0) throw new TooManyRequests(waitMs);
  try {
    const client =
      credentials.method === 'private_key_jwt'
        ? await checkAssertion(ctx, credentials, callerIp)
        : await checkCredentials(ctx, credentials, callerIp);
    ctx.budgets.succeeded(credentials.clientId, callerIp);
    return client;
  } catch (error) {
    if (error instanceof InvalidClient) ctx.budgets.failed(credentials.clientId, callerIp);
    throw error;
  }
}

/**
 * Checks the credentials, or throws InvalidClient. Every failure costs the same argon2id
 * work as a wrong secret (see SecretVerifier) and looks the same to the caller; the reason
 * is in the error's private detail.
 */
async function checkCredentials(
  ctx: AuthenticationContext,
  credentials: Extract<ClientCredentials, { clientSecret: string }>,
  callerIp: string,
): Promise<ClientRecord> {
  const fail = async (detail: string, client?: ClientRecord): Promise<never> => {
    await ctx.verifier.refuse(credentials.clientSecret.slice(0, MAX_CREDENTIAL_LENGTH));
    const error = new InvalidClient(detail);
    throw client === undefined ? error : error.concerns({ clientId: client.clientId });
  };

  // Credentials that cannot be valid cost the same as any other failure, and are never
  // looked up: every client_id follows the client_id rule (which also keeps bytes such as
  // NUL, which PostgreSQL refuses in text, away from the database).
  if (!isValidClientId(credentials.clientId)) return fail('not a well-formed client_id');
  if (credentials.clientSecret === '') return fail('empty secret');
  if (credentials.clientSecret.length > MAX_CREDENTIAL_LENGTH) return fail('secret too long');

  // Whatever the lookup found, argon2 would refuse this one (queue full): answer that now,
  // without the database query (see ClientDirectory.mayNeedArgon2).
  if (ctx.verifier.full && ctx.directory.mayNeedArgon2(credentials.clientId)) {
    throw new Overloaded('too much verification work queued');
  }
  const client = await ctx.directory.find(credentials.clientId);
  if (client === undefined) return fail('unknown client');
  if (client.authMethod !== 'client_secret') return fail(`client authenticates with ${client.authMethod}, not a secret`, client);
  const now = ctx.clock();
  const status = clientStatus(client, now);
  if (status !== 'active') return fail(`client is ${status}`, client);
  // The caller's address before its secret: a secret that verified before is recognised
  // without argon2, so checking it first would answer an outsider holding the right secret
  // faster than one holding a wrong secret, and tell it that the secret is good.
  if (!isAddressAllowed(callerIp, client.networks)) return fail(`caller ${callerIp} is outside the client's IP ranges`, client);
  if (!(await ctx.directory.verifySecret(client, credentials.clientSecret, now))) {
    throw new InvalidClient('wrong secret').concerns({ clientId: client.clientId });
  }
  return client;
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
): Promise<ClientRecord> {
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

  let key: Awaited<ReturnType<KeySet>>;
  try {
    key =
      client.jwksUri !== null
        ? await ctx.remoteJwks.getKey(client.jwksUri, unverified.header)
        : await registeredKeys(client)(unverified.header);
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
      audiences: [ctx.issuer, tokenEndpointUrl(ctx.issuer)],
      now,
      claimJwtId: (jti, expiresAt) => claimJwtId(ctx.db, `client_assertion:${client.clientId}`, jti, expiresAt, new Date(now)),
    });
  } catch (error) {
    if (error instanceof AssertionRejected) return reject(error.message, client);
    throw error;
  }
  return client;
}

type KeySet = ReturnType<typeof createLocalJWKSet>;
/** The imported key set of each cached record: made once, gone with the record. */
const keySets = new WeakMap<ClientRecord, KeySet>();

/** The client's registered keys, as jose selects among them (by kid, kty and alg; one match or none). */
function registeredKeys(client: ClientRecord): KeySet {
  let keys = keySets.get(client);
  if (keys === undefined) {
    keys = createLocalJWKSet(client.jwks ?? { keys: [] });
    keySets.set(client, keys);
  }
  return keys;
}
