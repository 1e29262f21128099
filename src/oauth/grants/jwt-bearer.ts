import type { ClientRecord } from '../../clients/record.js';
import { clientStatus, isValidClientId } from '../../clients/rules.js';
import { type FederatedIdentityUse, identityMatches } from '../../federation/identities.js';
import { isAddressAllowed } from '../../lib/networks.js';
import type { FederationContext } from '../client-auth/federated.js';
import { InvalidGrant, InvalidRequest } from '../errors.js';
import type { TokenParameters } from '../parameters.js';
import { PlatformTokenRejected, verifyPlatformToken } from './platform-token.js';

/**
 * The JWT bearer grant (RFC 7523 §2.1): a trusted issuer's JWT, from an issuer with
 * `jwt_bearer`, is the authorization grant; the token goes to the federated client with an
 * identity that matches it, exactly as a platform token signs a federated client in
 * (clients/identities.ts). The enterprise identity-assertion flows build on this grant.
 * Client authentication is optional (RFC 7523 §3.1): a client that authenticates must be
 * that client; without it, `client_id` names it, or the single client whose identity
 * matches is the one. A bad assertion is `invalid_grant` (RFC 7523 §3.1).
 */

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export function readAssertion(params: TokenParameters): string {
  if (params.assertion === undefined || params.assertion === '') throw new InvalidRequest('assertion is required');
  return params.assertion;
}

/** Whether the request carries any client authentication (the JWT bearer grant may have none). */
export function sendsClientAuthentication(authorization: string | undefined, params: TokenParameters): boolean {
  return (
    authorization !== undefined ||
    (params.client_secret !== undefined && params.client_secret !== '') ||
    params.client_assertion !== undefined ||
    params.client_assertion_type !== undefined
  );
}

/**
 * The client the assertion is for, and the identity it matched. `authenticated`: the client
 * that authenticated, if one did; else `requestedClientId`, the client_id sent, if any.
 */
export async function jwtBearerClient(
  ctx: Pick<FederationContext, 'clock' | 'remoteJwks' | 'issuer' | 'federation' | 'directory'>,
  assertion: string,
  options: { authenticated: ClientRecord | undefined; requestedClientId: string | undefined; ip: string },
): Promise<{ client: ClientRecord; identity: FederatedIdentityUse }> {
  let verified: Awaited<ReturnType<typeof verifyPlatformToken>>;
  try {
    verified = await verifyPlatformToken(ctx, assertion, 'jwt_bearer');
  } catch (error) {
    if (error instanceof PlatformTokenRejected) {
      throw new InvalidGrant('the assertion is not a valid token of a trusted issuer that allows the JWT bearer grant', error.detail);
    }
    throw error;
  }
  const { issuer, claims, subject } = verified;
  const matches = (client: ClientRecord) =>
    client.authMethod === 'federated' &&
    client.federatedIdentities.some((identity) => identity.issuerId === issuer.id && identityMatches(identity, claims));
  const named = options.authenticated?.clientId ?? options.requestedClientId;
  let client: ClientRecord | undefined;
  if (named !== undefined) {
    client = isValidClientId(named) ? (options.authenticated ?? (await ctx.directory.find(named))) : undefined;
    if (client === undefined || !matches(client)) {
      throw new InvalidGrant('the assertion does not match an identity of the client', `assertion of ${issuer.id} for ${subject}`);
    }
  } else {
    const found: ClientRecord[] = [];
    for (const clientId of await ctx.federation.clientsWithIdentity(issuer.id, subject)) {
      const candidate = await ctx.directory.find(clientId);
      if (candidate !== undefined && matches(candidate)) found.push(candidate);
    }
    if (found.length !== 1) {
      throw new InvalidGrant(
        found.length === 0 ? 'no client has an identity matching the assertion' : 'several clients match the assertion: send client_id',
      );
    }
    client = found[0] as ClientRecord;
  }
  const status = clientStatus(client, ctx.clock());
  if (status !== 'active')
    throw new InvalidGrant('the client of the assertion is not active', `client is ${status}`).concerns({ clientId: client.clientId });
  if (!isAddressAllowed(options.ip, client.networks)) {
    throw new InvalidGrant(
      'the client of the assertion may not be used from this address',
      `caller ${options.ip} outside the IP ranges`,
    ).concerns({
      clientId: client.clientId,
    });
  }
  return { client, identity: { issuer: issuer.id, subject } };
}
