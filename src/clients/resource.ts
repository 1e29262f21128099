import type {
  clientCredentials,
  clientFederatedIdentities,
  clientGrants,
  clientIpRanges,
  clients,
  clientTlsIdentities,
} from '../db/schema.js';
import type { ClientResource } from '../schemas/clients.js';
import { tlsClientAuthFields } from './certificates.js';
import { clientStatus, serviceAccountUsername } from './rules.js';

// A client as the admin API shows it, made from its row and the rows that hang from it.

/** What a client resource is made of besides the client row (getClient and listClients load them with it). */
export const CLIENT_RESOURCE_RELATIONS = {
  grants: true,
  ipRanges: true,
  federatedIdentities: true,
  tlsIdentities: true,
  credentials: true,
} as const;

type ClientRowWithRelations = typeof clients.$inferSelect & {
  grants: Array<typeof clientGrants.$inferSelect>;
  ipRanges: Array<typeof clientIpRanges.$inferSelect>;
  federatedIdentities: Array<typeof clientFederatedIdentities.$inferSelect>;
  tlsIdentities: Array<typeof clientTlsIdentities.$inferSelect>;
  credentials: Array<typeof clientCredentials.$inferSelect>;
};

/**
 * A client's `jwks` as the API shows it: its public-key credentials not revoked (expired
 * ones too: they are still registered), oldest first; null when it has none.
 */
function registeredJwks(row: ClientRowWithRelations): { keys: Array<Record<string, unknown>> } | null {
  const keys = row.credentials
    .filter((credential) => credential.kind === 'public_key' && credential.jwk !== null && credential.revokedAt === null)
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((credential) => credential.jwk as Record<string, unknown>);
  return keys.length > 0 ? { keys } : null;
}

export function toClientResource(row: ClientRowWithRelations, now: number): ClientResource {
  return {
    client_id: row.clientId,
    name: row.name,
    description: row.description,
    owner: row.owner,
    created_by: row.createdBy,
    created_by_name: row.createdByName,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    first_name: row.firstName,
    last_name: row.lastName,
    roles: row.roles,
    grants: row.grants
      .map((grant) => ({ service: grant.serviceId, scopes: grant.scopes, ...(grant.exchange !== null && { exchange: grant.exchange }) }))
      .sort((a, b) => a.service.localeCompare(b.service)),
    ip_ranges: row.ipRanges.map((range) => range.cidr).sort(),
    auth_method: row.authMethod,
    jwks: registeredJwks(row),
    jwks_uri: row.jwksUri,
    federated_identities: row.federatedIdentities
      .map((identity) => ({ issuer: identity.issuerId, subject: identity.subject, claims: identity.claims }))
      .sort((a, b) => a.issuer.localeCompare(b.issuer) || a.subject.localeCompare(b.subject)),
    ...tlsClientAuthFields(row.tlsIdentities),
    tls_client_certificate_bound_access_tokens: row.certificateBound,
    expires_at: row.expiresAt?.toISOString() ?? null,
    enabled: row.enabled,
    dpop_bound: row.dpopBound,
    managed: row.managed,
    access_token_ttl: row.accessTokenTtl,
    claims: row.claims,
    token_quota: row.tokenQuota ?? null,
    may_act: row.mayAct ?? null,
    status: clientStatus({ enabled: row.enabled, expiresAt: row.expiresAt }, now),
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    last_used_identity: row.lastUsedIdentity ?? null,
    service_account: { id: row.id, username: serviceAccountUsername(row.clientId) },
  };
}

/**
 * The API's answer to a change that may have made a secret (create, or a switch to
 * client_secret): the client, and the secret beside it this once.
 */
export function withClientSecret<T extends object>(outcome: {
  client: T;
  clientSecret: string | undefined;
}): T | (T & { client_secret: string }) {
  const { client, clientSecret } = outcome;
  return clientSecret === undefined ? client : { ...client, client_secret: clientSecret };
}
