import { and, eq, isNotNull } from 'drizzle-orm';
import { type Actor, recordChange } from '../audit/events.js';
import type { Db, DbOrTx } from '../db/connect.js';
import { clientGrants, clientIpRanges, clientSecrets, clients } from '../db/schema.js';
import { ConflictError, type FieldError, NotFoundError, RuleError, ValidationError } from '../lib/errors.js';
import { checkClaims } from '../policy/claims.js';
import { toStoredQuota } from '../policy/quota.js';
import type { BulkResult, ClientPatch, ClientResource } from '../schemas/clients.js';
import { MAX_PREVIOUS_SECRET_VALIDITY } from '../schemas/common.js';
import { checkClientKeys, checkExpiry, checkGrants, checkIpRanges, getClient } from './clients.js';
import { generateSecret, type SecretSlot, storedSecret } from './secrets.js';

/** Loads the client row for a change, locking it until the transaction ends. */
async function lockClient(tx: DbOrTx, clientId: string) {
  const [row] = await tx.select().from(clients).where(eq(clients.clientId, clientId)).for('update');
  if (row === undefined) throw new NotFoundError(`no client with client_id "${clientId}"`);
  return row;
}

async function mustGet(db: DbOrTx, clientId: string, now: number): Promise<ClientResource> {
  const client = await getClient(db, clientId, now);
  if (client === undefined) throw new NotFoundError(`no client with client_id "${clientId}"`);
  return client;
}

/**
 * Applies a PATCH (client_id and owner are fixed forever): the given fields replace the
 * stored ones (grants and ip_ranges as a whole). The change, its audit event (with before
 * and after of each changed field) and the cache generation bump are one transaction.
 *
 * Switching auth_method follows what create does: to private_key_jwt, the secrets go and
 * the keys (jwks or jwks_uri) are required; to client_secret, the keys go and a new secret
 * is made, returned here once and never again. A private_key_jwt client given one of jwks
 * and jwks_uri drops the other.
 */
export async function updateClient(
  db: Db,
  clientId: string,
  patch: ClientPatch,
  actor: Actor,
  now = Date.now(),
): Promise<{ client: ClientResource; clientSecret: string | undefined }> {
  const errors: FieldError[] = [];
  if (patch.client_id !== undefined) errors.push({ path: '/client_id', message: 'client_id cannot be changed' });
  if (patch.owner !== undefined) errors.push({ path: '/owner', message: 'owner cannot be changed after creation' });
  const ipRanges = patch.ip_ranges === undefined ? undefined : checkIpRanges(patch.ip_ranges, errors);
  const expiresAt = patch.expires_at === undefined ? undefined : checkExpiry(patch.expires_at, errors);
  if (patch.claims !== undefined) checkClaims(patch.claims, errors);
  // Hashed before the transaction (milliseconds of CPU), in case the change is a switch to
  // client_secret; unused otherwise.
  const newSecret = patch.auth_method === 'client_secret' && errors.length === 0 ? generateSecret() : undefined;
  const newStored = newSecret === undefined ? undefined : await storedSecret(newSecret);

  return db.transaction(async (tx) => {
    if (patch.grants !== undefined) errors.push(...(await checkGrants(tx, patch.grants)));
    if (errors.length > 0) throw new ValidationError(errors);
    // Lock first, then read: `before` is what this change replaces, not an earlier state.
    const row = await lockClient(tx, clientId);
    const before = await mustGet(tx, clientId, now);
    const columns: Partial<typeof clients.$inferInsert> = {};
    if (patch.name !== undefined) columns.name = patch.name;
    if (patch.description !== undefined) columns.description = patch.description;
    if (patch.first_name !== undefined) columns.firstName = patch.first_name;
    if (patch.last_name !== undefined) columns.lastName = patch.last_name;
    if (patch.roles !== undefined) columns.roles = patch.roles;
    if (expiresAt !== undefined) columns.expiresAt = expiresAt;
    const method = patch.auth_method ?? row.authMethod;
    if (patch.auth_method !== undefined || patch.jwks !== undefined || patch.jwks_uri !== undefined) {
      const keepStored = method === 'private_key_jwt' && patch.jwks === undefined && patch.jwks_uri === undefined;
      const keys = await checkClientKeys(
        method,
        keepStored ? row.jwks : (patch.jwks ?? null),
        keepStored ? row.jwksUri : (patch.jwks_uri ?? null),
        errors,
      );
      if (errors.length > 0) throw new ValidationError(errors);
      columns.authMethod = method;
      columns.jwks = keys.jwks;
      columns.jwksUri = keys.jwksUri;
    }
    if (patch.dpop_bound !== undefined) columns.dpopBound = patch.dpop_bound;
    if (patch.access_token_ttl !== undefined) columns.accessTokenTtl = patch.access_token_ttl;
    if (patch.claims !== undefined) columns.claims = patch.claims;
    if (patch.token_quota !== undefined) columns.tokenQuota = toStoredQuota(patch.token_quota);
    await tx
      .update(clients)
      .set({ ...columns, updatedAt: new Date() })
      .where(eq(clients.id, row.id));
    const switched = method !== row.authMethod;
    // A private_key_jwt client has no secret at all, as if it had been created so.
    if (switched && method === 'private_key_jwt') await tx.delete(clientSecrets).where(eq(clientSecrets.clientUuid, row.id));
    const issued = switched && method === 'client_secret' ? newSecret : undefined;
    if (issued !== undefined && newStored !== undefined) await tx.insert(clientSecrets).values({ clientUuid: row.id, ...newStored });
    if (patch.grants !== undefined) {
      await tx.delete(clientGrants).where(eq(clientGrants.clientUuid, row.id));
      if (patch.grants.length > 0) {
        await tx
          .insert(clientGrants)
          .values(patch.grants.map((grant) => ({ clientUuid: row.id, serviceId: grant.service, scopes: grant.scopes })));
      }
    }
    if (ipRanges !== undefined) {
      await tx.delete(clientIpRanges).where(eq(clientIpRanges.clientUuid, row.id));
      if (ipRanges.length > 0) await tx.insert(clientIpRanges).values(ipRanges.map((cidr) => ({ clientUuid: row.id, cidr })));
    }
    const after = await mustGet(tx, clientId, now);
    const details: Record<string, unknown> = { changes: changedFields(before, after) };
    if (switched) details.secrets = method === 'client_secret' ? 'new secret issued' : 'secrets removed';
    await recordChange(tx, { action: 'client.updated', actor, clientId, details });
    return { client: after, clientSecret: issued };
  });
}

const AUDITED_FIELDS = [
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
  'dpop_bound',
  'access_token_ttl',
  'claims',
  'token_quota',
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
  now = Date.now(),
): Promise<ClientResource> {
  return db.transaction(async (tx) => {
    await setEnabledInTx(tx, clientId, enabled, actor);
    return mustGet(tx, clientId, now);
  });
}

async function setEnabledInTx(tx: DbOrTx, clientId: string, enabled: boolean, actor: Actor): Promise<void> {
  const row = await lockClient(tx, clientId);
  if (row.enabled === enabled) return;
  await tx.update(clients).set({ enabled, updatedAt: new Date() }).where(eq(clients.id, row.id));
  await recordChange(tx, { action: enabled ? 'client.enabled' : 'client.disabled', actor, clientId });
}

/** Enables or disables many clients; one result per id, in the order given. */
export async function bulkSetEnabled(db: Db, clientIds: string[], enabled: boolean, actor: Actor, now = Date.now()): Promise<BulkResult[]> {
  const results: BulkResult[] = [];
  for (const clientId of clientIds) {
    try {
      const client = await setClientEnabled(db, clientId, enabled, actor, now);
      results.push({ client_id: clientId, ok: true, status: client.status });
    } catch (error) {
      if (!(error instanceof RuleError)) throw error;
      results.push({ client_id: clientId, ok: false, error: error.message });
    }
  }
  return results;
}

/** Deletes a client for good: its secrets, grants and IP ranges go with it. */
export async function deleteClient(db: Db, clientId: string, actor: Actor): Promise<void> {
  await db.transaction(async (tx) => {
    const row = await lockClient(tx, clientId);
    await tx.delete(clients).where(eq(clients.id, row.id));
    await recordChange(tx, { action: 'client.deleted', actor, clientId, details: { service_account_id: row.id } });
  });
}

/**
 * Makes a new secret. The previous one stops working at once, or, with
 * `previousSecretValidFor` seconds, keeps working until then; a secret still in an earlier
 * grace period is dropped, so a client never has more than two live secrets, and those two
 * are in different slots (see secretSlot).
 */
export async function regenerateSecret(
  db: Db,
  clientId: string,
  previousSecretValidFor: number,
  actor: Actor,
): Promise<{ clientSecret: string; previousSecretExpiresAt: string | null }> {
  if (!Number.isInteger(previousSecretValidFor) || previousSecretValidFor < 0 || previousSecretValidFor > MAX_PREVIOUS_SECRET_VALIDITY) {
    throw new ValidationError([
      { path: '/previous_secret_valid_for', message: `must be a whole number of seconds from 0 to ${MAX_PREVIOUS_SECRET_VALIDITY}` },
    ]);
  }
  const previousExpiresAt = previousSecretValidFor > 0 ? new Date(Date.now() + previousSecretValidFor * 1000) : null;
  // Hashed before the transaction (milliseconds of CPU). With a grace period the new secret
  // must be in the slot the previous one is not in, which is known only under the lock:
  // one candidate is made for each slot, and the transaction takes the right one.
  const candidate = async (slot?: SecretSlot) => {
    const secret = generateSecret(slot);
    return { secret, stored: await storedSecret(secret) };
  };
  const withGrace = previousExpiresAt !== null;
  const [first, second] = await Promise.all([candidate(withGrace ? 0 : undefined), withGrace ? candidate(1) : undefined]);
  const issued = await db.transaction(async (tx) => {
    const row = await lockClient(tx, clientId);
    if (row.authMethod !== 'client_secret')
      throw new ConflictError(`client "${clientId}" authenticates with ${row.authMethod} and has no secret`);
    // Secrets already counting down belong to an earlier regeneration: they go now.
    await tx.delete(clientSecrets).where(and(eq(clientSecrets.clientUuid, row.id), isNotNull(clientSecrets.expiresAt)));
    let previousSlot: number | null = null;
    if (previousExpiresAt === null) {
      await tx.delete(clientSecrets).where(eq(clientSecrets.clientUuid, row.id));
    } else {
      const previous = await tx
        .update(clientSecrets)
        .set({ expiresAt: previousExpiresAt })
        .where(eq(clientSecrets.clientUuid, row.id))
        .returning({ slot: clientSecrets.slot });
      previousSlot = previous[0]?.slot ?? null;
    }
    // A previous secret of unknown slot (made before slots existed, never used since) takes
    // either: such a pair costs two verifications until the grace period ends.
    const chosen = second !== undefined && first.stored.slot === previousSlot ? second : first;
    await tx.insert(clientSecrets).values({ clientUuid: row.id, ...chosen.stored });
    await tx.update(clients).set({ updatedAt: new Date() }).where(eq(clients.id, row.id));
    await recordChange(tx, {
      action: 'client.secret_regenerated',
      actor,
      clientId,
      details: { previous_secret_valid_until: previousExpiresAt?.toISOString() ?? null },
    });
    return chosen.secret;
  });
  return { clientSecret: issued, previousSecretExpiresAt: previousExpiresAt?.toISOString() ?? null };
}
