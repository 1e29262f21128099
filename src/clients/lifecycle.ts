import { and, eq, gt, isNull, notInArray, or, sql } from 'drizzle-orm';
import type { JWK } from 'jose';
import { ALL_CLIENTS, type ClientVisibility as ClientScope } from '../access/visibility.js';
import { type Actor, recordChange } from '../audit/events.js';
import type { Db, DbOrTx } from '../db/connect.js';
import { clientCredentials, clientGrants, clientIpRanges, clients } from '../db/schema.js';
import { checkFederatedIdentities } from '../federation/identities.js';
import { storeFederatedIdentities } from '../federation/store.js';
import { ConflictError, type FieldError, NotFoundError, RuleError, ValidationError } from '../lib/errors.js';
import { checkClaims } from '../policy/claims.js';
import { toStoredQuota } from '../policy/quota.js';
import type { BulkResult, ClientPatch, ClientResource } from '../schemas/clients.js';
import { MAX_PREVIOUS_SECRET_VALIDITY } from '../schemas/common.js';
import {
  checkTlsIdentities,
  isCertificateMethod,
  storeTlsIdentities,
  TLS_CLIENT_AUTH_FIELDS,
  type TlsClientAuthField,
} from './certificates.js';
import { checkClientKeys, checkExpiry, checkGrants, checkIpRanges, getClient, grantRows } from './clients.js';
import { newCredentialExpiry } from './credential-limits.js';
import { publicKeyRows, secretRow } from './credential-rows.js';
import { type CredentialSettings, ensureRoomForOneMore, lockClientRow } from './credentials.js';
import { enforceOperatorLimits } from './operator-limits.js';
import { newSecret } from './secrets.js';

const lockClient = lockClientRow;

async function mustGet(db: DbOrTx, clientId: string, now: number): Promise<ClientResource> {
  const client = await getClient(db, clientId, now);
  if (client === undefined) throw new NotFoundError(`no client with client_id "${clientId}"`);
  return client;
}

/**
 * Applies a PATCH (client_id is fixed forever; the owner changes only by an admin, which is
 * how a client passes on when someone leaves): the given fields replace the stored ones
 * (grants and ip_ranges as a whole). The change, its audit event (with before and after of
 * each changed field) and the cache generation bump are one transaction. Under an owner's
 * scope, another owner's client is not found, grants follow checkGrants' rule, and the rest
 * the operator's limits (operator-limits.ts).
 *
 * Switching auth_method follows what create does: to private_key_jwt, the secrets go and
 * the keys (jwks or jwks_uri) are required; to federated, the secrets and keys go and
 * federated_identities are required; to client_secret, keys and identities go and a new
 * secret is made, returned here once and never again. A private_key_jwt client given one
 * of jwks and jwks_uri drops the other; a federated client given federated_identities
 * replaces its list.
 */
export async function updateClient(
  db: Db,
  clientId: string,
  patch: ClientPatch,
  actor: Actor,
  now: number,
  scope: ClientScope = ALL_CLIENTS,
  /**
   * SECRET_PREFIX, for a secret made by a switch to client_secret; MAX_CREDENTIALS_PER_CLIENT,
   * the most keys a `jwks` given whole may have; CREDENTIAL_MAX_LIFETIME_DAYS, where the keys
   * the change adds and the secret it makes end (as POST .../credentials gives them).
   */
  // Required, so that no caller leaves the limits out unseen; partial for configuration as
  // code, whose apply may run without them (its defaults are the API's).
  settings: Partial<CredentialSettings>,
): Promise<{ client: ClientResource; clientSecret: string | undefined }> {
  const { secretPrefix } = settings;
  const errors: FieldError[] = [];
  if (patch.client_id !== undefined) errors.push({ path: '/client_id', message: 'client_id cannot be changed' });
  const ipRanges = patch.ip_ranges === undefined ? undefined : checkIpRanges(patch.ip_ranges, errors);
  const expiresAt = patch.expires_at === undefined ? undefined : checkExpiry(patch.expires_at, errors, now);
  if (patch.claims !== undefined) checkClaims(patch.claims, errors);
  // Hashed before the transaction (milliseconds of CPU), in case the change is a switch to
  // client_secret; unused otherwise.
  const prepared = patch.auth_method === 'client_secret' && errors.length === 0 ? await newSecret(secretPrefix) : undefined;

  return db.transaction(async (tx) => {
    // Lock first, then read: `before` is what this change replaces, not an earlier state.
    // And a client out of scope is a 404 before anything about the request is said.
    const row = await lockClient(tx, clientId, scope);
    const before = await mustGet(tx, clientId, now);
    if (patch.grants !== undefined) errors.push(...(await checkGrants(tx, patch.grants, scope, before.grants)));
    if (errors.length > 0) throw new ValidationError(errors);
    if (scope.kind === 'owner') await enforceOperatorLimits(tx, patch, before);
    const columns: Partial<typeof clients.$inferInsert> = {};
    if (patch.owner !== undefined) columns.owner = patch.owner;
    if (patch.name !== undefined) columns.name = patch.name;
    if (patch.description !== undefined) columns.description = patch.description;
    if (patch.first_name !== undefined) columns.firstName = patch.first_name;
    if (patch.last_name !== undefined) columns.lastName = patch.last_name;
    if (patch.roles !== undefined) columns.roles = patch.roles;
    if (expiresAt !== undefined) columns.expiresAt = expiresAt;
    const method = patch.auth_method ?? row.authMethod;
    /** The public keys the client has after the change, when the change touches them. */
    let registeredKeys: JWK[] | undefined;
    if (patch.auth_method !== undefined || patch.jwks !== undefined || patch.jwks_uri !== undefined) {
      const keepStored =
        (method === 'private_key_jwt' || method === 'self_signed_tls_client_auth') &&
        patch.jwks === undefined &&
        patch.jwks_uri === undefined;
      const keys = await checkClientKeys(
        method,
        keepStored ? before.jwks : (patch.jwks ?? null),
        keepStored ? row.jwksUri : (patch.jwks_uri ?? null),
        errors,
        settings.maxPerClient,
      );
      if (errors.length > 0) throw new ValidationError(errors);
      columns.authMethod = method;
      columns.jwksUri = keys.jwksUri;
      registeredKeys = keys.jwks?.keys ?? [];
    }
    // Identities: checked whenever the client is or becomes federated and a list is given,
    // or it leaves federated (then it has none); a switch to federated must bring its list.
    const identitiesChanged = patch.federated_identities !== undefined || (patch.auth_method !== undefined && method !== row.authMethod);
    const identities = identitiesChanged ? await checkFederatedIdentities(tx, method, patch.federated_identities, errors) : undefined;
    // TLS identities: checked whenever a tls_client_auth field is given, the method changes,
    // or a self-signed client's keys do (its identities are their thumbprints).
    const tlsFieldGiven = (Object.keys(TLS_CLIENT_AUTH_FIELDS) as TlsClientAuthField[]).some((field) => patch[field] !== undefined);
    const tlsChanged = tlsFieldGiven || method !== row.authMethod || (method === 'self_signed_tls_client_auth' && patch.jwks !== undefined);
    const tlsIdentities = tlsChanged
      ? await checkTlsIdentities(method, patch, registeredKeys !== undefined ? { keys: registeredKeys } : before.jwks, errors)
      : undefined;
    if (errors.length > 0) throw new ValidationError(errors);
    if (patch.tls_client_certificate_bound_access_tokens !== undefined) {
      columns.certificateBound = patch.tls_client_certificate_bound_access_tokens;
    } else if (method !== row.authMethod && isCertificateMethod(method)) {
      // As at create: a client that now authenticates with a certificate gets tokens bound to it.
      columns.certificateBound = true;
    }
    if (patch.dpop_bound !== undefined) columns.dpopBound = patch.dpop_bound;
    if (patch.access_token_ttl !== undefined) columns.accessTokenTtl = patch.access_token_ttl;
    if (patch.claims !== undefined) columns.claims = patch.claims;
    if (patch.token_quota !== undefined) columns.tokenQuota = toStoredQuota(patch.token_quota);
    if (patch.may_act !== undefined) columns.mayAct = patch.may_act;
    await tx
      .update(clients)
      .set({ ...columns, updatedAt: sql`now()` })
      .where(eq(clients.id, row.id));
    // The grants first: the services they name bound the lifetime of the credentials below.
    if (patch.grants !== undefined) {
      await tx.delete(clientGrants).where(eq(clientGrants.clientUuid, row.id));
      if (patch.grants.length > 0) {
        await tx.insert(clientGrants).values(grantRows(row.id, patch.grants));
      }
    }
    const switched = method !== row.authMethod;
    // A private_key_jwt or federated client has no secret at all, as if it had been created so.
    if (switched && method !== 'client_secret') {
      await tx.delete(clientCredentials).where(and(eq(clientCredentials.clientUuid, row.id), eq(clientCredentials.kind, 'secret')));
    }
    const issued = switched && method === 'client_secret' ? prepared : undefined;
    // The keys it adds and the secret it makes end within the maximum lifetime, as at create.
    const { expiresAt: newCredentialsEnd } =
      registeredKeys !== undefined || issued !== undefined ? await newCredentialExpiry(tx, row.id, now, settings) : { expiresAt: null };
    if (registeredKeys !== undefined) await replacePublicKeys(tx, row.id, registeredKeys, actor, newCredentialsEnd);
    if (issued !== undefined) await tx.insert(clientCredentials).values(secretRow(row.id, issued, actor, { expiresAt: newCredentialsEnd }));
    if (identities !== undefined) await storeFederatedIdentities(tx, row.id, identities);
    if (tlsIdentities !== undefined) await storeTlsIdentities(tx, row.id, tlsIdentities);
    if (ipRanges !== undefined) {
      await tx.delete(clientIpRanges).where(eq(clientIpRanges.clientUuid, row.id));
      if (ipRanges.length > 0) await tx.insert(clientIpRanges).values(ipRanges.map((cidr) => ({ clientUuid: row.id, cidr })));
    }
    const after = await mustGet(tx, clientId, now);
    const details: Record<string, unknown> = { changes: changedFields(before, after) };
    if (switched && method === 'client_secret') details.secrets = 'new secret issued';
    else if (switched && row.authMethod === 'client_secret') details.secrets = 'secrets removed';
    await recordChange(tx, { action: 'client.updated', actor, clientId, details });
    return { client: after, clientSecret: issued?.secret };
  });
}

/**
 * Makes the client's public-key credentials the given keys (a `jwks` given whole, or none):
 * a key already registered keeps its credential (its id, expiry and last use), the others
 * go, the new ones are added, ending at `expiresAt`.
 */
async function replacePublicKeys(
  tx: DbOrTx,
  clientUuid: string,
  keys: readonly JWK[],
  actor: Actor,
  expiresAt: Date | null,
): Promise<void> {
  const existing = await tx
    .select({ id: clientCredentials.id, jwk: clientCredentials.jwk })
    .from(clientCredentials)
    .where(
      and(eq(clientCredentials.clientUuid, clientUuid), eq(clientCredentials.kind, 'public_key'), isNull(clientCredentials.revokedAt)),
    );
  // The members in one order: the database (jsonb) keeps them in an order of its own.
  const canonical = (jwk: unknown) =>
    JSON.stringify(Object.entries((jwk ?? {}) as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)));
  const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);
  const kept = existing.filter((credential) => keys.some((key) => same(key, credential.jwk))).map((credential) => credential.id);
  await tx
    .delete(clientCredentials)
    .where(
      and(
        eq(clientCredentials.clientUuid, clientUuid),
        eq(clientCredentials.kind, 'public_key'),
        kept.length > 0 ? notInArray(clientCredentials.id, kept) : undefined,
      ),
    );
  const added = keys.filter((key) => !existing.some((credential) => kept.includes(credential.id) && same(key, credential.jwk)));
  if (added.length > 0) await tx.insert(clientCredentials).values(publicKeyRows(clientUuid, added, actor, { expiresAt }));
}

const AUDITED_FIELDS = [
  'owner',
  'name',
  'description',
  'first_name',
  'last_name',
  'roles',
  'grants',
  'ip_ranges',
  'expires_at',
  'enabled',
  'auth_method',
  'jwks',
  'jwks_uri',
  'federated_identities',
  'tls_client_auth_subject_dn',
  'tls_client_auth_san_dns',
  'tls_client_auth_san_uri',
  'tls_client_auth_san_ip',
  'tls_client_auth_san_email',
  'tls_client_certificate_bound_access_tokens',
  'dpop_bound',
  'access_token_ttl',
  'claims',
  'token_quota',
  'may_act',
] as const;

/** `{ field: { from, to } }` for each field that differs. */
function changedFields(before: ClientResource, after: ClientResource): Record<string, { from: unknown; to: unknown }> {
  const changes: Record<string, { from: unknown; to: unknown }> = {};
  for (const field of AUDITED_FIELDS) {
    if (JSON.stringify(before[field]) !== JSON.stringify(after[field])) changes[field] = { from: before[field], to: after[field] };
  }
  return changes;
}

/** Disable or enable one client. Disabling stops new tokens at once and makes its live tokens inactive. */
export async function setClientEnabled(
  db: Db,
  clientId: string,
  enabled: boolean,
  actor: Actor,
  now: number,
  scope: ClientScope = ALL_CLIENTS,
): Promise<ClientResource> {
  return db.transaction(async (tx) => {
    await setEnabledInTx(tx, clientId, enabled, actor, scope);
    return mustGet(tx, clientId, now);
  });
}

async function setEnabledInTx(tx: DbOrTx, clientId: string, enabled: boolean, actor: Actor, scope: ClientScope): Promise<void> {
  const row = await lockClient(tx, clientId, scope);
  if (row.enabled === enabled) return;
  await tx.update(clients).set({ enabled, updatedAt: sql`now()` }).where(eq(clients.id, row.id));
  await recordChange(tx, { action: enabled ? 'client.enabled' : 'client.disabled', actor, clientId });
}

/** Enables or disables many clients; one result per id, in the order given (one out of scope: not found). */
export async function bulkSetEnabled(
  db: Db,
  clientIds: string[],
  enabled: boolean,
  actor: Actor,
  now: number,
  scope: ClientScope = ALL_CLIENTS,
): Promise<BulkResult[]> {
  const results: BulkResult[] = [];
  for (const clientId of clientIds) {
    try {
      const client = await setClientEnabled(db, clientId, enabled, actor, now, scope);
      results.push({ client_id: clientId, ok: true, status: client.status });
    } catch (error) {
      if (!(error instanceof RuleError)) throw error;
      results.push({ client_id: clientId, ok: false, error: error.message });
    }
  }
  return results;
}

/** Deletes a client for good: its secrets, grants and IP ranges go with it. */
export async function deleteClient(db: Db, clientId: string, actor: Actor, scope: ClientScope = ALL_CLIENTS): Promise<void> {
  await db.transaction(async (tx) => {
    const row = await lockClient(tx, clientId, scope);
    await tx.delete(clients).where(eq(clients.id, row.id));
    await recordChange(tx, { action: 'client.deleted', actor, clientId, details: { service_account_id: row.id } });
  });
}

/**
 * Makes a new secret (POST /admin/clients/{id}/secret): adds a secret credential and gives
 * the client's other live secrets the expiry `previousSecretValidFor` seconds from now (one
 * that expires sooner keeps its own); with 0, they are removed at once. Within
 * MAX_CREDENTIALS_PER_CLIENT, counting the secrets still live after the change.
 */
export async function regenerateSecret(
  db: Db,
  clientId: string,
  previousSecretValidFor: number,
  actor: Actor,
  now: number,
  settings: CredentialSettings,
  scope: ClientScope = ALL_CLIENTS,
): Promise<{ clientSecret: string; previousSecretExpiresAt: string | null }> {
  if (!Number.isInteger(previousSecretValidFor) || previousSecretValidFor < 0 || previousSecretValidFor > MAX_PREVIOUS_SECRET_VALIDITY) {
    throw new ValidationError([
      { path: '/previous_secret_valid_for', message: `must be a whole number of seconds from 0 to ${MAX_PREVIOUS_SECRET_VALIDITY}` },
    ]);
  }
  const previousExpiresAt = previousSecretValidFor > 0 ? new Date(now + previousSecretValidFor * 1000) : null;
  // Hashed before the transaction (milliseconds of CPU).
  const issued = await newSecret(settings.secretPrefix);
  await db.transaction(async (tx) => {
    const row = await lockClient(tx, clientId, scope);
    if (row.authMethod !== 'client_secret')
      throw new ConflictError(`client "${clientId}" authenticates with ${row.authMethod} and has no secret`);
    const otherLiveSecrets = and(
      eq(clientCredentials.clientUuid, row.id),
      eq(clientCredentials.kind, 'secret'),
      isNull(clientCredentials.revokedAt),
      or(isNull(clientCredentials.expiresAt), gt(clientCredentials.expiresAt, new Date(now))),
    );
    const previous = await tx.select({ id: clientCredentials.id }).from(clientCredentials).where(otherLiveSecrets);
    if (previousExpiresAt === null) {
      await tx
        .update(clientCredentials)
        .set({ revokedAt: new Date(now), revokedReason: 'removed' })
        .where(otherLiveSecrets);
    } else {
      await tx
        .update(clientCredentials)
        .set({ expiresAt: previousExpiresAt })
        .where(and(otherLiveSecrets, or(isNull(clientCredentials.expiresAt), gt(clientCredentials.expiresAt, previousExpiresAt))));
    }
    await ensureRoomForOneMore(tx, row, now, settings);
    const { expiresAt } = await newCredentialExpiry(tx, row.id, now, settings);
    await tx.insert(clientCredentials).values(secretRow(row.id, issued, actor, { expiresAt }));
    await tx.update(clients).set({ updatedAt: sql`now()` }).where(eq(clients.id, row.id));
    await recordChange(tx, {
      action: 'client.secret_regenerated',
      actor,
      clientId,
      details: {
        credential_id: issued.credentialId,
        previous_credential_ids: previous.map((credential) => credential.id),
        previous_secret_valid_until: previousExpiresAt?.toISOString() ?? null,
      },
    });
  });
  return { clientSecret: issued.secret, previousSecretExpiresAt: previousExpiresAt?.toISOString() ?? null };
}
