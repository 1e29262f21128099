import { randomUUID } from 'node:crypto';
import type { ClientRecord, GrantedService } from '../clients/record.js';
import { serviceAccountUsername } from '../clients/rules.js';
import type { FederatedIdentityUse } from '../federation/identities.js';
import type { ActiveKey } from '../keys/signing-keys.js';
import { assignClaims, type Claims } from '../policy/claims.js';
import type { ActClaim, MayActClaim } from './delegation.js';

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
  scope: string;
  jti: string;
  /** RFC 9449 §5: `DPoP` for a token bound to a key, else `Bearer`. */
  tokenType: 'Bearer' | 'DPoP';
}

/** A token's claims before it is signed: what the issuance hook sees, and may add to. */
export interface TokenDraft {
  claims: Claims;
  expiresIn: number;
  scope: string;
  jti: string;
  tokenType: 'Bearer' | 'DPoP';
}

/**
 * The claim that names the platform identity a federated client signed in as: the trusted
 * issuer's id and the subject. Introspection reads it back: the token is the one place
 * that knows, on every instance, which of a client's workloads got it.
 */
export const FEDERATED_IDENTITY_CLAIM = 'federated_identity';

/** Whom a token is for: a client (its service account), or a subject from elsewhere (a trusted issuer's, in a token exchange). */
export type TokenSubject = { client: ClientRecord } | { external: string };

/**
 * The RFC 9068 claims of an access token. For a client: `sub` is its service account's UUID
 * (never reused), with its client_id, username, name and roles. For an external subject
 * (token exchange of a trusted issuer's token): `sub` is `<issuer id>:<sub>` and there is no
 * client_id. `aud` is the chosen service(s); the custom claims follow (their names never
 * clash: the reserved names are refused on the way in, see policy/claims.ts); a token got by
 * token exchange names its actors in `act` (RFC 8693 §4.1).
 */
export function draftAccessToken(options: {
  issuer: string;
  /** The token's lifetime in seconds. */
  ttl: number;
  subject: TokenSubject;
  services: GrantedService[];
  scopes: string[];
  /** The time of issue, in milliseconds. */
  now: number;
  /** The thumbprint of the DPoP key the token is bound to (RFC 9449 §6.1), if any. */
  jkt?: string | undefined;
  /** The SHA-256 thumbprint of the TLS client certificate the token is bound to (RFC 8705 §3.1), if any. */
  x5t?: string | undefined;
  /** The platform identity a federated client signed in as. */
  federatedIdentity?: FederatedIdentityUse | undefined;
  /** Custom claims, if any. */
  custom?: Claims | undefined;
  /** RFC 8693 §4.1: who acts for the subject (token exchange). */
  act?: ActClaim | undefined;
  /** RFC 8693 §4.4: who may act for the subject. */
  mayAct?: MayActClaim | undefined;
}): TokenDraft {
  const { subject, services, scopes, ttl } = options;
  const iat = Math.floor(options.now / 1000);
  const jti = randomUUID();
  const scope = scopes.join(' ');
  const audiences = services.map((service) => service.audience);
  const claims: Claims = {
    iss: options.issuer,
    sub: 'client' in subject ? subject.client.uuid : subject.external,
    aud: audiences.length === 1 ? audiences[0] : audiences,
    ...('client' in subject && { client_id: subject.client.clientId }),
    scope,
    iat,
    exp: iat + ttl,
    jti,
  };
  if ('client' in subject) {
    const { client } = subject;
    claims.preferred_username = serviceAccountUsername(client.clientId);
    const name = [client.firstName, client.lastName].filter((part) => part !== null && part !== '').join(' ');
    if (name !== '') claims.name = name;
    if (client.roles.length > 0) claims.roles = client.roles;
  }
  if (options.jkt !== undefined || options.x5t !== undefined) {
    claims.cnf = { ...(options.jkt !== undefined && { jkt: options.jkt }), ...(options.x5t !== undefined && { 'x5t#S256': options.x5t }) };
  }
  if (options.act !== undefined) claims.act = options.act;
  if (options.mayAct !== undefined) claims.may_act = options.mayAct;
  if (options.custom !== undefined) assignClaims(claims, options.custom);
  if (options.federatedIdentity !== undefined) claims[FEDERATED_IDENTITY_CLAIM] = options.federatedIdentity;
  return { claims, expiresIn: ttl, scope, jti, tokenType: options.jkt === undefined ? 'Bearer' : 'DPoP' };
}

/** Signs the drafted token with the active key. */
export async function signAccessToken(key: ActiveKey, draft: TokenDraft): Promise<IssuedToken> {
  const accessToken = await key.signer.sign(draft.claims);
  return { accessToken, expiresIn: draft.expiresIn, scope: draft.scope, jti: draft.jti, tokenType: draft.tokenType };
}
