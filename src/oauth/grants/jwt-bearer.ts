import type { ClientRecord } from '../../clients/record.js';
import type { FederatedIdentityUse } from '../../federation/identities.js';
import { type FederatedClientRefusal, type FederationContext, federatedClientOf } from '../client-auth/federated.js';
import { InvalidGrant, InvalidRequest } from '../errors.js';
import type { TokenParameters } from '../parameters.js';
import { PlatformTokenRejected, verifyPlatformToken } from './platform-token.js';

/**
 * The JWT bearer grant (RFC 7523 §2.1): a trusted issuer's JWT, from an issuer with
 * `jwt_bearer`, is the authorization grant; the token goes to the federated client with an
 * identity that matches it, exactly as a platform token signs a federated client in
 * (client-auth/federated.ts, federatedClientOf). The enterprise identity-assertion flows build on this grant.
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
  const named = options.authenticated ?? options.requestedClientId;
  const client = await federatedClientOf(
    ctx,
    verified,
    { named, ip: options.ip },
    (refusal) => new InvalidGrant(JWT_BEARER_REFUSALS[refusal.kind], refusal.detail),
  );
  return { client, identity: { issuer: verified.issuer.id, subject: verified.subject } };
}

/**
 * What the JWT bearer grant tells the client when the assertion gets no client: unlike a
 * client authentication, the client is not the one in doubt, so the answer says which
 * rule it failed (RFC 7523 §3.1); the details stay in the log and the audit trail.
 */
const JWT_BEARER_REFUSALS: Record<FederatedClientRefusal['kind'], string> = {
  'no-match': 'the assertion does not match an identity of the client',
  none: 'no client has an identity matching the assertion',
  several: 'several clients match the assertion: send client_id',
  inactive: 'the client of the assertion is not active',
  address: 'the client of the assertion may not be used from this address',
};
