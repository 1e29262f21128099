import type { GrantedService } from '../../clients/record.js';
import type { FederatedIdentityUse } from '../../federation/identities.js';
import type { Claims } from '../../policy/claims.js';
import type { ActClaim, MayActClaim } from '../delegation.js';
import type { TokenSubject } from '../issue.js';

/** RFC 8693 §3: the token type URIs Portier reads and writes. */
export const TOKEN_TYPES = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
} as const;

/**
 * What a grant decided the token is, before the steps every grant shares (the DPoP proof,
 * the quota, the hook, the signature; see oauth/token.ts): for whom, for which services,
 * with which scopes, how long, and what the token names besides.
 */
export interface TokenDecision {
  subject: TokenSubject;
  services: GrantedService[];
  scopes: string[];
  /** Seconds. */
  ttl: number;
  custom: Claims | undefined;
  federatedIdentity: FederatedIdentityUse | undefined;
  act?: ActClaim | undefined;
  mayAct?: MayActClaim | undefined;
  /** The key the request's DPoP proof must be of: the subject token is bound to it (RFC 9449). */
  requiredJkt?: string | undefined;
  /** The certificate thumbprint the request's TLS client certificate must have: the subject token is bound to it (RFC 8705). */
  requiredX5t?: string | undefined;
  /** RFC 8693 §2.2.1: what the answer says was issued; undefined for grants other than token exchange. */
  issuedTokenType?: string | undefined;
  /** A token exchange, for the audit trail once the token is issued. */
  /** `actor`: the client the new token's `act` names (the requesting client, or a listed actor whose actor_token it sent). */
  exchange?: { subject: string; subjectClientId: string | undefined; actor: string; chain: string[] } | undefined;
}
