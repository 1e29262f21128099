import { randomUUID } from 'node:crypto';
import type { FederatedIdentityUse } from '../clients/identities.js';
import type { ClientRecord, GrantedService } from '../clients/record.js';
import { serviceAccountUsername } from '../clients/rules.js';
import type { ActiveKey } from '../keys/signing-keys.js';

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
  scope: string;
  jti: string;
  /** RFC 9449 §5: `DPoP` for a token bound to a key, else `Bearer`. */
  tokenType: 'Bearer' | 'DPoP';
}

/**
 * The claim that names the platform identity a federated client signed in as: the trusted
 * issuer's id and the subject. Introspection reads it back: the token is the one place
 * that knows, on every instance, which of a client's workloads got it.
 */
export const FEDERATED_IDENTITY_CLAIM = 'federated_identity';

/**
 * Signs an RFC 9068 access token for the client's service-account user. `sub` is the
 * service account's UUID (never reused), `aud` the chosen service(s).
 */
export async function issueAccessToken(options: {
  issuer: string;
  ttl: number;
  key: ActiveKey;
  client: ClientRecord;
  services: GrantedService[];
  scopes: string[];
  /** The time of issue, in milliseconds. */
  now: number;
  /** The thumbprint of the DPoP key the token is bound to (RFC 9449 §6.1), if any. */
  jkt?: string | undefined;
  /** The platform identity a federated client signed in as. */
  federatedIdentity?: FederatedIdentityUse | undefined;
}): Promise<IssuedToken> {
  const { client, services, scopes, key, ttl } = options;
  const iat = Math.floor(options.now / 1000);
  const jti = randomUUID();
  const scope = scopes.join(' ');
  const audiences = services.map((service) => service.audience);
  const name = [client.firstName, client.lastName].filter((part) => part !== null && part !== '').join(' ');
  const claims: Record<string, unknown> = {
    iss: options.issuer,
    sub: client.uuid,
    aud: audiences.length === 1 ? audiences[0] : audiences,
    client_id: client.clientId,
    scope,
    iat,
    exp: iat + ttl,
    jti,
    preferred_username: serviceAccountUsername(client.clientId),
  };
  if (name !== '') claims.name = name;
  if (client.roles.length > 0) claims.roles = client.roles;
  if (options.jkt !== undefined) claims.cnf = { jkt: options.jkt };
  if (options.federatedIdentity !== undefined) claims[FEDERATED_IDENTITY_CLAIM] = options.federatedIdentity;
  const accessToken = await key.signer.sign(claims);
  return { accessToken, expiresIn: ttl, scope, jti, tokenType: options.jkt === undefined ? 'Bearer' : 'DPoP' };
}
