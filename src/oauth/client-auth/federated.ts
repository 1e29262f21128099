import type { ClientDirectory } from '../../clients/directory.js';
import type { ClientRecord } from '../../clients/record.js';
import { clientStatus, isValidClientId } from '../../clients/rules.js';
import { type FederatedIdentityUse, identityMatches } from '../../federation/identities.js';
import {
  type PlatformTokenContext,
  PlatformTokenRejected,
  type VerifiedPlatformToken,
  verifyPlatformToken,
} from '../../federation/platform-tokens.js';
import { isAddressAllowed } from '../../lib/networks.js';
import { redactSecrets } from '../../lib/redact.js';
import { InvalidClient, type OAuthError } from '../errors.js';
import { CLIENT_ASSERTION_TYPE } from './client-assertion.js';
import type { FederatedCredentials } from './credentials.js';
import type { RemoteJwks } from './remote-jwks.js';

/**
 * Federated client authentication: a workload signs in with the JWT its platform already
 * gives it as its RFC 7523 client assertion. The token is checked as every platform token
 * is (federation/platform-tokens.ts); what is left here is the client it signs in.
 */

/** What the federated check needs beyond what every client authentication has. */
export interface FederationContext extends PlatformTokenContext {
  directory: ClientDirectory;
  remoteJwks: RemoteJwks;
}

/** A client that signed in with a platform's JWT, and which of its identities it was. */
export interface FederatedAuthentication {
  client: ClientRecord;
  /** A federated client holds no credential of its own. */
  credentialId?: undefined;
  identity: FederatedIdentityUse;
}

/**
 * Checks a platform's JWT presented as a client assertion (verifyPlatformToken), then the
 * client it signs in (federatedClientOf). Throws InvalidClient, whose private detail says why.
 */
export async function checkFederatedAssertion(
  ctx: FederationContext,
  credentials: FederatedCredentials,
  callerIp: string,
): Promise<FederatedAuthentication> {
  if (credentials.assertionType !== CLIENT_ASSERTION_TYPE) throw new InvalidClient('unsupported client_assertion_type');
  let token: VerifiedPlatformToken;
  try {
    token = await verifyPlatformToken(ctx, credentials.assertion, 'client_authentication');
  } catch (error) {
    if (error instanceof PlatformTokenRejected) throw new InvalidClient(error.detail);
    throw error;
  }
  // Client authentication tells the caller nothing of why it failed: one answer for all.
  const client = await federatedClientOf(
    ctx,
    token,
    { named: credentials.requestedClientId, ip: callerIp },
    (refusal) => new InvalidClient(refusal.detail),
  );
  return { client, identity: { issuer: token.issuer.id, subject: token.subject } };
}

/** Why a verified platform token gets no client: each grant answers with its own OAuth error. */
export interface FederatedClientRefusal {
  /**
   * `no-match`: the client named is none that the token may stand for (unknown, not
   * federated, no identity matching); `none`, `several`: without a client named, no client
   * or more than one has an identity matching the token; `inactive`: the client is disabled
   * or expired; `address`: the caller is outside the client's IP ranges.
   */
  kind: 'no-match' | 'none' | 'several' | 'inactive' | 'address';
  /** What exactly, for the log and the audit trail only. */
  detail: string;
}

/**
 * The client a verified platform token stands for, whether it signs the client in
 * (federated client authentication) or is the authorization grant (the JWT bearer grant):
 * `named`, the client named (its client_id, or the client that authenticated), which must
 * be federated with an identity of this issuer matching the token; without one, the single
 * client with such an identity. That client must be active and the caller within its IP
 * ranges. Otherwise throws `refuse`'s error, said to concern the client once one is found.
 */
export async function federatedClientOf(
  ctx: Pick<FederationContext, 'directory' | 'federation' | 'clock'>,
  token: Pick<VerifiedPlatformToken, 'issuer' | 'claims' | 'subject'>,
  { named, ip }: { named: string | ClientRecord | undefined; ip: string },
  refuse: (refusal: FederatedClientRefusal) => OAuthError,
): Promise<ClientRecord> {
  const fail: Fail = (kind, detail, client) => {
    const error = refuse({ kind, detail });
    throw client === undefined ? error : error.concerns({ clientId: client.clientId });
  };
  // While finding the client, the details say which token found none.
  const identity = `platform token of trusted issuer "${token.issuer.id}" for subject ${JSON.stringify(redactSecrets(token.subject))}`;
  const failFinding: Fail = (kind, detail, client) => fail(kind, `${identity}: ${detail}`, client);
  const client =
    named === undefined ? await onlyMatchingClient(ctx, token, failFinding) : await namedClient(ctx, token, named, failFinding);
  const status = clientStatus(client, ctx.clock());
  if (status !== 'active') return fail('inactive', `client is ${status}`, client);
  if (!isAddressAllowed(ip, client.networks)) return fail('address', `caller ${ip} is outside the client's IP ranges`, client);
  return client;
}

type Fail = (kind: FederatedClientRefusal['kind'], detail: string, client?: ClientRecord) => never;

/** Whether `client` is federated with an identity of the token's issuer that matches its claims. */
function matches(client: ClientRecord, { issuer, claims }: Pick<VerifiedPlatformToken, 'issuer' | 'claims'>): boolean {
  return (
    client.authMethod === 'federated' &&
    client.federatedIdentities.some((candidate) => candidate.issuerId === issuer.id && identityMatches(candidate, claims))
  );
}

async function namedClient(
  ctx: Pick<FederationContext, 'directory'>,
  token: Pick<VerifiedPlatformToken, 'issuer' | 'claims'>,
  named: string | ClientRecord,
  fail: Fail,
): Promise<ClientRecord> {
  if (typeof named === 'string' && !isValidClientId(named)) return fail('no-match', 'not a well-formed client_id');
  const client = typeof named === 'string' ? await ctx.directory.find(named) : named;
  if (client === undefined) return fail('no-match', 'unknown client');
  if (client.authMethod !== 'federated')
    return fail('no-match', `client authenticates with ${client.authMethod}, not a platform token`, client);
  if (!matches(client, token)) return fail('no-match', 'no federated identity of the client matches the token', client);
  return client;
}

async function onlyMatchingClient(
  ctx: Pick<FederationContext, 'directory' | 'federation'>,
  token: Pick<VerifiedPlatformToken, 'issuer' | 'claims' | 'subject'>,
  fail: Fail,
): Promise<ClientRecord> {
  const found: ClientRecord[] = [];
  for (const clientId of await ctx.federation.clientsWithIdentity(token.issuer.id, token.subject)) {
    const client = await ctx.directory.find(clientId);
    if (client !== undefined && matches(client, token)) found.push(client);
  }
  const [only, another] = found;
  if (only === undefined) return fail('none', 'no client has an identity matching the token');
  if (another !== undefined) {
    return fail(
      'several',
      `several clients have an identity matching the token (${found.map((c) => c.clientId).join(', ')}); send client_id`,
    );
  }
  return only;
}
