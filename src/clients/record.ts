import { eq } from 'drizzle-orm';
import type { JWK } from 'jose';
import type { Db } from '../db/connect.js';
import { clients } from '../db/schema.js';
import type { FederatedIdentity } from '../federation/identities.js';
import { loadFederatedIdentities } from '../federation/store.js';
import { type Network, parseNetworks } from '../lib/networks.js';
import { type Claims, withoutReserved } from '../policy/claims.js';
import { fromStoredQuota, type TokenQuota } from '../policy/quota.js';
import { TokenShapes } from '../policy/shapes.js';
import type { AuthMethod } from '../schemas/enums.js';
import { isCertificateMethod, loadTlsIdentities, type TlsIdentity } from './certificates.js';
import type { StoredSecret } from './secret-verifier.js';

/** A granted service as the token endpoint sees it. */
export interface GrantedService {
  serviceId: string;
  audience: string;
  /** The granted scopes that the service still offers. */
  scopes: string[];
  /** The service's token lifetime in seconds, or null. */
  accessTokenTtl: number | null;
  /** The service's custom claims. */
  claims: Claims;
  /**
   * Token exchange (RFC 8693): whom the client may act for with this service as the target,
   * and which other clients' tokens it may present as the actor_token; null: no exchange.
   */
  exchange: { subjects: string[]; actors?: string[] } | null;
}

/** A public-key credential of a private_key_jwt client, live until `expiresAt` (null: no end). */
export interface RegisteredKey {
  id: string;
  jwk: JWK;
  expiresAt: number | null;
}

/** Everything the token endpoint needs to know about one client. */
export interface ClientRecord {
  uuid: string;
  clientId: string;
  /** Name and owner, for the issuance hook. */
  name: string;
  owner: string;
  enabled: boolean;
  expiresAt: number | null;
  authMethod: AuthMethod;
  /** private_key_jwt: the registered public keys (credentials), or where the client publishes them (exactly one of the two). */
  publicKeys: RegisteredKey[];
  jwksUri: string | null;
  /** federated: the platform identities it signs in as (1 to 10); empty for other methods. */
  federatedIdentities: FederatedIdentity[];
  /** tls_client_auth: the one subject or SAN its certificate must show; self-signed: its keys' thumbprints; empty for other methods. */
  tlsIdentities: TlsIdentity[];
  /** Its tokens are bound to the TLS client certificate of the request (RFC 8705 §3): one must be presented. */
  certificateBound: boolean;
  firstName: string | null;
  lastName: string | null;
  roles: string[];
  /** Its secret credentials not revoked (live until their expiry). */
  secrets: StoredSecret[];
  /** The ids of all its credentials, revoked ones included (see oauth/client-auth/authenticate.ts). */
  credentialIds: ReadonlySet<string>;
  /** Keyed by audience. */
  grants: Map<string, GrantedService>;
  networks: Network[];
  /** Every token request must carry a DPoP proof (RFC 9449). */
  dpopBound: boolean;
  /** The client's own token lifetime in seconds, or null. */
  accessTokenTtl: number | null;
  /** The client's own custom claims. */
  claims: Claims;
  /** RFC 8693 §4.4: the client_ids that may act for this client (its tokens' `may_act`); null: none named. */
  mayAct: string[] | null;
  /** The client's own token quota; null: the defaults of the configuration. */
  tokenQuota: TokenQuota | null;
  /** Lifetime and custom claims of a token, per set of granted services: worked out once per record. */
  shapes: TokenShapes;
}

/**
 * Loads a client with credentials, grants (and their services) and IP ranges in one query; a
 * federated client's identities, or a certificate client's TLS identities, with a second
 * one (other clients have none, and their load stays one query).
 */
export async function loadClientRecord(db: Db, clientId: string): Promise<ClientRecord | undefined> {
  const row = await db.query.clients.findFirst({
    where: eq(clients.clientId, clientId),
    with: { credentials: true, grants: { with: { service: true } }, ipRanges: true },
  });
  if (row === undefined) return undefined;
  const federatedIdentities = row.authMethod === 'federated' ? await loadFederatedIdentities(db, row.id) : [];
  const tlsIdentities = isCertificateMethod(row.authMethod) ? await loadTlsIdentities(db, row.id) : [];
  const grants = new Map<string, GrantedService>(
    row.grants.map((grant) => [
      grant.service.audience,
      {
        serviceId: grant.serviceId,
        audience: grant.service.audience,
        scopes: grant.scopes.filter((scope) => grant.service.scopes.includes(scope)),
        accessTokenTtl: grant.service.accessTokenTtl,
        // Checked on the way in; dropped here too, so that no row can put a reserved claim in a token.
        claims: withoutReserved(grant.service.claims).kept,
        exchange: grant.exchange ?? null,
      },
    ]),
  );
  const unrevoked = row.credentials.filter((credential) => credential.revokedAt === null);
  const policy = { accessTokenTtl: row.accessTokenTtl, claims: withoutReserved(row.claims).kept };
  return {
    uuid: row.id,
    clientId: row.clientId,
    name: row.name,
    owner: row.owner,
    enabled: row.enabled,
    expiresAt: row.expiresAt?.getTime() ?? null,
    authMethod: row.authMethod,
    publicKeys: unrevoked
      .filter((credential) => credential.kind === 'public_key' && credential.jwk !== null)
      .map((credential) => ({ id: credential.id, jwk: credential.jwk as JWK, expiresAt: credential.expiresAt?.getTime() ?? null })),
    jwksUri: row.jwksUri,
    federatedIdentities,
    tlsIdentities,
    certificateBound: row.certificateBound,
    firstName: row.firstName,
    lastName: row.lastName,
    roles: row.roles,
    secrets: unrevoked.flatMap((secret) =>
      secret.kind !== 'secret' || secret.hash === null
        ? []
        : [
            {
              id: secret.id,
              hash: secret.hash,
              selfIdentifying: secret.selfIdentifying,
              slot: secret.slot === 0 || secret.slot === 1 ? secret.slot : null,
              expiresAt: secret.expiresAt?.getTime() ?? null,
              containsPlus: secret.containsPlus,
            },
          ],
    ),
    credentialIds: new Set(row.credentials.map((credential) => credential.id)),
    grants,
    networks: parseNetworks(row.ipRanges.map((range) => range.cidr)),
    dpopBound: row.dpopBound,
    ...policy,
    mayAct: row.mayAct ?? null,
    tokenQuota: fromStoredQuota(row.tokenQuota ?? null),
    shapes: new TokenShapes(policy, [...grants.values()]),
  };
}
